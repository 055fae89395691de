"""bench/python: a fixed amount of pure-Python work; prints the CPU seconds it took."""
import sys
import time


def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    start = time.process_time()
    for _ in range(rounds):
        work(100000)
    print(f"{time.process_time() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
