"""Several Python threads, each with its own call chain, for ember's tests. The threads take
turns under the GIL; every sample of one thread must show that thread's chain only."""
import sys
import threading
import time


def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def work_red(deadline):
    while time.monotonic() < deadline:
        spin(2000)


def work_green(deadline):
    while time.monotonic() < deadline:
        spin(2000)


def work_blue(deadline):
    while time.monotonic() < deadline:
        spin(2000)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=f, args=(deadline,)) for f in (work_red, work_green, work_blue)]
    for t in threads:
        t.start()
    print("ready", flush=True)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
