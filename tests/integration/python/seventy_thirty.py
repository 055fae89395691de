"""A known call tree for ember's Python tests: <module> -> main -> run -> step -> alpha | beta.

alpha does 7 units of pure-Python work per step and beta 3, so 70% / 30% of the CPU time is
spent in them. Step sizes vary at random: steps of one length can fall into step with the sampling
clock (2 ms of CPU against a 1 ms period) and shift the shares by points (a CI run saw 64.6%).
Prints "ready" once running (tests that attach wait for it), works for the given seconds, exits.
"""
import random
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
    sizes = random.Random(70)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step(sizes.randrange(1000, 3000))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    print("ready", flush=True)
    run(seconds)


if __name__ == "__main__":
    main()
