# A Python program whose threads sit in known functions at known lines, for the reader tests.
# Lines are found by their MARK comments, so editing this file does not break the tests.
# Usage: stack_target.py nested | deep N | busy
# Prints "ready MAIN_TID WORKER_TID" once the threads are about to sleep.
import sys
import threading
import time


def inner(x):
    while True:
        time.sleep(100)  # MARK:inner


def middle():
    return sorted([0, 1], key=inner)  # MARK:middle (inner is entered from C, via sorted)


def outer():
    middle()  # MARK:outer


def worker_leaf():
    while True:
        time.sleep(100)  # MARK:worker_leaf


def worker_top():
    worker_leaf()  # MARK:worker_top


def recurse(n):
    if n == 0:
        while True:
            time.sleep(100)  # MARK:recurse_leaf
    recurse(n - 1)  # MARK:recurse


def busy():
    x = 0
    while True:
        x += 1


def main():
    mode = sys.argv[1]
    worker = threading.Thread(target=worker_top, daemon=True)
    worker.start()
    while worker.native_id is None:
        time.sleep(0.01)
    print("ready", threading.get_native_id(), worker.native_id, flush=True)
    if mode == "nested":
        outer()  # MARK:main_nested
    elif mode == "deep":
        recurse(int(sys.argv[2]))  # MARK:main_deep
    else:
        busy()


main()  # MARK:module
