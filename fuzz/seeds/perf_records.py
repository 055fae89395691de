#!/usr/bin/env python3
"""Writes the seed inputs of the perf_records fuzz target (fuzz/perf_records.cpp): a selector
byte, then perf ring-buffer records laid out as the kernel writes them for ember's events
(include/uapi/linux/perf_event.h): COMM, MMAP2, FORK, SAMPLE with a callchain (and, in DWARF
mode, user registers and a stack copy), LOST, THROTTLE, EXIT.

    fuzz/seeds/perf_records.py fuzz/corpus/perf_records
"""
import os
import struct
import sys

SAMPLE_IDENTIFIER, SAMPLE_IP, SAMPLE_TID, SAMPLE_TIME = 1 << 16, 1 << 0, 1 << 1, 1 << 2
SAMPLE_CPU, SAMPLE_PERIOD, SAMPLE_CALLCHAIN = 1 << 7, 1 << 8, 1 << 5
SAMPLE_REGS_USER, SAMPLE_STACK_USER = 1 << 12, 1 << 13
MMAP, LOST, COMM, EXIT, THROTTLE, FORK, SAMPLE, MMAP2 = 1, 2, 3, 4, 5, 7, 9, 10
MISC_KERNEL, MISC_USER, MISC_COMM_EXEC, MISC_MMAP_BUILD_ID = 1, 2, 1 << 13, 1 << 14
CONTEXT_KERNEL, CONTEXT_USER = 2**64 - 128, 2**64 - 512
REGS_MASK = 0x1FF | (0xFF << 16)  # what ember's DWARF unwinder asks for


def record(rtype, body, misc=0):
    assert len(body) % 8 == 0, rtype
    return struct.pack("<IHH", rtype, misc, 8 + len(body)) + body


def padded(name):
    b = name.encode() + b"\0"
    return b + b"\0" * (-len(b) % 8)


def sample_id(pid, tid, time, cpu=0, ident=7):
    return struct.pack("<IIQIIQ", pid, tid, time, cpu, 0, ident)


def comm(pid, tid, name, time, exec_=True):
    return record(COMM, struct.pack("<II", pid, tid) + padded(name) + sample_id(pid, tid, time),
                  MISC_COMM_EXEC if exec_ else 0)


def mmap2(pid, start, length, pgoff, path, time, inode=4242):
    body = struct.pack("<IIQQQIIQQII", pid, pid, start, length, pgoff, 8, 1, inode, 0, 5, 2)
    return record(MMAP2, body + padded(path) + sample_id(pid, pid, time), MISC_USER)


def mmap2_build_id(pid, start, length, pgoff, path, time, build_id):
    """An MMAP2 that names its file by build-id (PERF_RECORD_MISC_MMAP_BUILD_ID), not inode."""
    ident = struct.pack("<BBH", len(build_id), 0, 0) + build_id.ljust(20, b"\0")
    body = struct.pack("<IIQQQ", pid, pid, start, length, pgoff) + ident + struct.pack("<II", 5, 2)
    return record(MMAP2, body + padded(path) + sample_id(pid, pid, time), MISC_USER | MISC_MMAP_BUILD_ID)


def task(rtype, pid, ppid, tid, ptid, time):
    return record(rtype, struct.pack("<IIIIQ", pid, ppid, tid, ptid, time) + sample_id(pid, tid, time))


def sample(pid, tid, time, ip, chain, dwarf=False, kernel=False, stack=b""):
    body = struct.pack("<QQIIQIIQ", 7, ip, pid, tid, time, 0, 0, 1_001_000)
    body += struct.pack("<Q", len(chain)) + b"".join(struct.pack("<Q", a) for a in chain)
    if dwarf:
        nregs = bin(REGS_MASK).count("1")
        regs = [0x7FFE0000 + 8 * i for i in range(nregs)]
        regs[8] = ip  # IP
        body += struct.pack("<Q", 2) + b"".join(struct.pack("<Q", r) for r in regs)  # ABI 64
        stack = stack + b"\0" * (-len(stack) % 8)
        body += struct.pack("<Q", len(stack)) + stack
        if stack:
            body += struct.pack("<Q", len(stack))
    return record(SAMPLE, body, MISC_KERNEL if kernel else MISC_USER)


def stream(dwarf):
    pid, t = 4100, 1_000_000_000
    out = [comm(pid, pid, "golden", t), mmap2(pid, 0x400000, 0x2000, 0, "/usr/bin/golden", t + 1),
           mmap2(pid, 0x7F0000000000, 0x21000, 0x1000, "/usr/lib/x86_64-linux-gnu/libc.so.6", t + 2)]
    out.append(task(FORK, pid, pid, pid + 1, pid, t + 3))
    out.append(comm(pid, pid + 1, "worker", t + 4, exec_=False))
    for i in range(6):
        leaf = 0x401000 + 0x40 * i
        chain = [CONTEXT_USER, leaf, 0x401200, 0x7F0000001234]
        if i % 3 == 2:
            chain = [CONTEXT_KERNEL, 0xFFFFFFFF81000000 + i, 0xFFFFFFFF81001000] + chain
        stack = struct.pack("<QQQQ", 0x401200, 0x7FFE0010, 0x7F0000001234, 0) if dwarf else b""
        out.append(sample(pid, pid + (i & 1), t + 10 + i * 1000, leaf, [] if dwarf and i == 1 else chain,
                          dwarf=dwarf, kernel=i % 3 == 2, stack=stack))
    out.append(record(LOST, struct.pack("<QQ", 7, 3) + sample_id(pid, pid, t + 9000)))
    out.append(record(THROTTLE, struct.pack("<QQQ", t + 9100, 7, 7) + sample_id(pid, pid, t + 9100)))
    out.append(task(EXIT, pid, pid, pid + 1, pid, t + 9500))
    out.append(task(EXIT, pid, 1, pid, 1, t + 9600))
    return b"".join(out)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    # The selector byte: bit 0 DWARF mode, bit 1 without sample_id_all (the trailers are still
    # written: the decoder must refuse them as the wrong size).
    seeds = {"fp.bin": b"\0" + stream(False), "dwarf.bin": b"\1" + stream(True),
             "no_sample_id_all.bin": b"\2" + stream(False)[:400]}
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
