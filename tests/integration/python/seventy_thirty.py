"""A known call tree for ember's Python tests: <module> -> main -> run -> step -> alpha | beta.

alpha does 7 units of pure-Python work per step and beta 3, so 70% / 30% of the CPU time is
spent in them. Prints "ready" once running (tests that attach wait for it), then works for the
given number of seconds and exits.
"""
import sys
import time


def alpha(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def beta(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def step(unit):
    alpha(7 * unit)
    beta(3 * unit)


def run(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step(2000)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print("ready", flush=True)
    run(seconds)


if __name__ == "__main__":
    main()
