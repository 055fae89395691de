"""Wall time of Python threads for ember's off-CPU tests: which Python function waits.

The main thread ("pymain") alternates waiter(), which sleeps 70 ms in time.sleep, and compute(),
which spins for 30 ms of wall time: 70% / 30% of its wall time. A second thread ("pylock")
waits in wait_for_lock() on a lock the main thread holds, in rounds of 200 ms; a third
("pyreader") blocks in reader() on a socket's recv until the end. Thread names are set in
/proc so a --per-thread profile tells them apart. Prints "ready" once running; with a report
path, writes what each phase of the main thread took ("sleep S", "compute S") at the end.
"""
import socket
import sys
import threading
import time

lock = threading.Lock()
done = threading.Event()


def name_thread(name):
    try:
        with open("/proc/self/task/%d/comm" % threading.get_native_id(), "w") as f:
            f.write(name)
    except OSError:
        pass


def waiter():
    time.sleep(0.07)


def compute():
    deadline = time.monotonic() + 0.03
    total = 0
    while time.monotonic() < deadline:
        for i in range(200):
            total += i * i
    return total


def wait_for_lock():
    while not done.is_set():
        if lock.acquire(timeout=0.2):
            lock.release()
            time.sleep(0.01)


def reader(sock):
    while True:
        data = sock.recv(1)
        if not data or data == b"q":
            return


def locker():
    name_thread("pylock")
    wait_for_lock()


def receiver(sock):
    name_thread("pyreader")
    reader(sock)


def run(seconds, phases):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        waiter()
        t1 = time.monotonic()
        compute()
        t2 = time.monotonic()
        phases["sleep"] += t1 - t0
        phases["compute"] += t2 - t1


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    report = sys.argv[2] if len(sys.argv) > 2 else None
    name_thread("pymain")
    a, b = socket.socketpair()
    lock.acquire()
    threads = [threading.Thread(target=locker), threading.Thread(target=receiver, args=(b,))]
    for t in threads:
        t.start()
    print("ready", flush=True)
    phases = {"sleep": 0.0, "compute": 0.0}
    run(seconds, phases)
    done.set()
    lock.release()
    a.send(b"q")
    for t in threads:
        t.join()
    if report:
        with open(report, "w") as f:
            for key, value in phases.items():
                f.write("%s %.6f\n" % (key, value))


if __name__ == "__main__":
    main()
