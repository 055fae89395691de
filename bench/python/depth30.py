"""bench/python: a CPU-bound program whose samples have 30 Python frames (the module's code,
main, 27 levels of descend, leaf)."""
import sys
import time


def leaf(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def descend(depth, deadline):
    if depth > 1:
        return descend(depth - 1, deadline)
    while time.monotonic() < deadline:
        leaf(5000)
    return 0


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    descend(27, time.monotonic() + seconds)


if __name__ == "__main__":
    main()
