"""A C library under a Python function for ember's tests: handle() calls zlib.compress, so the
stacks read handle -> zlib's C functions (deflate ...)."""
import random
import sys
import time
import zlib


def payload():
    rng = random.Random(7)
    words = [bytes(rng.choice(b"abcdefghij") for _ in range(rng.randint(3, 9))) for _ in range(500)]
    return b" ".join(rng.choice(words) for _ in range(40000))


def handle(data):
    return len(zlib.compress(data, 9))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    data = payload()
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        handle(data)


if __name__ == "__main__":
    main()
