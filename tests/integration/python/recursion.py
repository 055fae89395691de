"""Deep Python recursion for ember's tests: <module> -> main -> descend x DEPTH -> leaf.

Every sample taken in leaf has DEPTH descend frames above it; the module's code is the root.
"""
import sys
import time

DEPTH = 45


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
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print("ready", flush=True)
    descend(DEPTH, time.monotonic() + seconds)


if __name__ == "__main__":
    main()
