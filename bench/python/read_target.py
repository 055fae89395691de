"""bench/python read_bench: a thread parked 30 Python frames deep (the module's code, main, 27
levels of descend, leaf), or spinning there with --busy. Prints "ready TID"."""
import sys
import threading
import time


def leaf(busy):
    if busy:
        total = 0
        while True:
            for i in range(1000):
                total += i * i
    while True:
        time.sleep(100)


def descend(depth, busy):
    if depth > 1:
        return descend(depth - 1, busy)
    return leaf(busy)


def main():
    busy = "--busy" in sys.argv
    print("ready", threading.get_native_id(), flush=True)
    descend(27, busy)


main()
