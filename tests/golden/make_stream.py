#!/usr/bin/env python3
"""Writes stream.bin, the perf records of the golden pipeline test (tests/golden/README.md), as
the kernel lays them out in a ring for `ember record --call-graph fp` of app.elf: the process
and a worker thread, frame-pointer callchains in app.elf's functions (addresses from its symbol
table), a sample outside every mapping, a LOST record, and records out of time order (the
worker's samples before its COMM, as two CPUs' rings interleave them).

    tests/golden/make_stream.py tests/golden/app.elf tests/golden/stream.bin
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "seeds"))
import perf_records as pr  # noqa: E402

PID, WORKER = 4242, 4243
PATH = "/opt/golden/app"  # looked up under the test's proc root: PROC/4242/root/opt/golden/app


def symbols(elf):
    out = subprocess.run(["nm", elf], check=True, capture_output=True, text=True).stdout
    return {name: int(addr, 16) for addr, kind, name in (l.split() for l in out.splitlines()) if kind == "T"}


def build_id(elf):
    out = subprocess.run(["readelf", "-n", elf], check=True, capture_output=True, text=True).stdout
    return bytes.fromhex(next(l.split()[-1] for l in out.splitlines() if "Build ID" in l))


def main():
    elf, out_path = sys.argv[1], sys.argv[2]
    s = symbols(elf)
    # A call inside each caller: its return address lies 4 bytes into the function.
    def chain(*names):  # leaf first
        return [pr.CONTEXT_USER, s[names[0]] + 2] + [s[n] + 4 for n in names[1:]]

    t = 2_000_000_000
    records = [pr.comm(PID, PID, "app", t), pr.mmap2_build_id(PID, 0x401000, 0x1000, 0x1000, PATH, t + 1, build_id(elf))]
    outer = ("worker_loop", "serve", "_start")
    shapes = [  # (samples, leaf-first frames)
        (40, ("deflate_block", "compress", "handle") + outer),
        (20, ("checksum", "compress", "handle") + outer),
        (15, ("parse_header", "parse_request", "handle") + outer),
        (10, ("wait_for_work",) + outer),
    ]
    time = t + 1000
    for count, names in shapes:
        for _ in range(count):
            c = chain(*names)
            records.append(pr.sample(PID, PID, time, c[1], c))
            time += 10_000
    # The worker thread: its samples reach the stream before its FORK and COMM (another CPU's
    # ring), stamped after them; the reorder queue puts them back in order.
    fork_time = time
    for i in range(10):
        c = chain("parse_request", "handle", "worker_loop", "serve", "_start")
        records.append(pr.sample(PID, WORKER, fork_time + 100 + i * 10_000, c[1], c))
    records.append(pr.task(pr.FORK, PID, PID, WORKER, PID, fork_time + 10))
    records.append(pr.comm(PID, WORKER, "worker", fork_time + 20, exec_=False))
    time = fork_time + 200_000
    # Three samples at an address no mapping holds (a JIT that unmapped, say): kept, unnamed.
    for _ in range(3):
        c = [pr.CONTEXT_USER, 0x900010, s["handle"] + 4, s["worker_loop"] + 4, s["serve"] + 4, s["_start"] + 4]
        records.append(pr.sample(PID, PID, time, c[1], c))
        time += 10_000
    records.append(pr.record(pr.LOST, pr.struct.pack("<QQ", 7, 5) + pr.sample_id(PID, PID, time)))
    records.append(pr.task(pr.EXIT, PID, PID, WORKER, PID, time + 10))
    records.append(pr.task(pr.EXIT, PID, 1, PID, 1, time + 20))
    with open(out_path, "wb") as f:
        f.write(b"".join(records))


if __name__ == "__main__":
    main()
