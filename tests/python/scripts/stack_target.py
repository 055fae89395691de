# A Python program whose threads sit in known functions at known lines, for the reader tests.
# Lines are found by their MARK comments, so editing this file does not break the tests.
# Usage: stack_target.py nested | deep N | busy | switch
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


def alpha_leaf():
    x = 0
    for i in range(200):
        x += i
    return x


def alpha():
    return alpha_leaf()  # MARK:alpha


def beta_leaf(s):
    return s.upper() * 3


def beta_mid():
    return beta_leaf("b") + beta_leaf("c")  # MARK:beta_mid


def beta():
    return [beta_mid() for _ in range(3)]  # MARK:beta


def switch():
    # Changes its call chain every few microseconds: reads race with pushes and pops.
    while True:
        alpha()  # MARK:switch_alpha
        beta()  # MARK:switch_beta


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
    elif mode == "switch":
        switch()  # MARK:main_switch
    else:
        busy()


main()  # MARK:module
