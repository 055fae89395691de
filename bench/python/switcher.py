"""bench/python: switches what it runs every millisecond, between a plain Python loop
(one eval-loop call deep) and a loop called back by map() (two eval-loop calls deep), so a
Python stack read a little after the sample disagrees with the native stack whenever the
program switched in between."""
import sys
import time


def flat(deadline):
    total = 0
    while time.perf_counter() < deadline:
        total += 1
    return total


def nested_item(deadline):
    total = 0
    while time.perf_counter() < deadline:
        total += 1
    return total


def nested(deadline):
    return sum(map(nested_item, [deadline]))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        flat(time.perf_counter() + 0.001)
        nested(time.perf_counter() + 0.001)


if __name__ == "__main__":
    main()
