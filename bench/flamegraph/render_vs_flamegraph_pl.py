#!/usr/bin/env python3
"""`ember flamegraph` against Brendan Gregg's flamegraph.pl on the same folded file, in one run.

    bench/flamegraph/render_vs_flamegraph_pl.py --ember build/cli/ember \
        --flamegraph-pl /path/to/flamegraph.pl [--size-mb 34] [--rounds 3] [--work DIR]

flamegraph.pl is not part of ember: pass the path of a copy (github.com/brendangregg/FlameGraph).
The input is generated here, deterministically (seeded), shaped like `perf script |
stackcollapse-perf.pl` output of a busy C++ service (sorted, one line per unique stack): walks
down a call tree of 5,000 functions of 10-140 characters (templates, namespaces, kernel frames
ending in _[k]), so that stacks share prefixes, depths of 8-70 frames, sample counts with a long
tail. Prints, per tool, the best wall time and the best CPU time (user + system) of --rounds runs,
MB/s of folded input by each, peak RSS and its ratio to the input size, and the ratios of the two
tools' times. On a loaded machine the CPU times are the fairer comparison.
"""

import argparse
import os
import random
import subprocess
import sys
import time


def names(rng, n):
    spaces = ["std", "boost::asio", "app", "app::db", "app::http", "folly", "grpc", "absl", "rocksdb", "v8::internal"]
    words = ["Request", "Handler", "Parser", "Buffer", "Cache", "Table", "Index", "Encoder", "Session", "Worker",
             "Queue", "Channel", "Stream", "Writer", "Reader", "Block", "Arena", "Map", "Tree", "Node"]
    verbs = ["process", "handle", "parse", "lookup", "insert", "flush", "compress", "decode", "encode", "run",
             "dispatch", "read", "write", "poll", "wait", "merge", "scan", "hash", "compare", "serialize"]
    out = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.12:
            out.append(rng.choice(["__x64_sys_", "do_", "ext4_", "tcp_", "__schedule_", "copy_", "vfs_", "ep_"])
                       + rng.choice(verbs) + "_" + str(i) + "_[k]")
        elif kind < 0.2:
            out.append(rng.choice(["__memcpy_avx_unaligned_erms", "malloc", "free", "pthread_mutex_lock",
                                   "__libc_start_call_main", "_start", "operator new"]) + ("" if rng.random() < 0.5 else "_" + str(i)))
        else:
            ns = rng.choice(spaces)
            cls = rng.choice(words) + rng.choice(words)
            fn = rng.choice(verbs) + rng.choice(words)
            name = f"{ns}::{cls}::{fn}"
            if rng.random() < 0.35:
                name = f"{ns}::{cls}<{rng.choice(spaces)}::{rng.choice(words)}, std::allocator<{rng.choice(words)}> >::{fn}"
            if rng.random() < 0.2:
                name += f"<{rng.choice(words)}::{rng.choice(verbs)}_{i}>"
            out.append(name + ("" if rng.random() < 0.7 else f"_{i}"))
    return out


def generate(path, size_bytes, seed=1):
    rng = random.Random(seed)
    pool = names(rng, 5000)
    # A call tree: each function calls a few others; stacks are walks from a few roots.
    callees = {f: rng.sample(range(len(pool)), rng.randint(2, 6)) for f in range(len(pool))}
    roots = [rng.randrange(len(pool)) for _ in range(8)]
    written = 0
    lines = {}
    while written < size_bytes:
        depth = min(70, max(8, int(rng.gauss(30, 12))))
        f = rng.choice(roots)
        stack = ["service", pool[f]]
        for _ in range(depth - 2):
            f = rng.choice(callees[f]) if rng.random() < 0.9 else rng.randrange(len(pool))
            stack.append(pool[f])
        line = ";".join(stack)
        if line in lines:
            continue
        lines[line] = max(1, int(rng.paretovariate(1.2)))
        written += len(line) + len(str(lines[line])) + 2
    # Sorted, as stackcollapse-perf.pl writes it.
    with open(path, "w") as out:
        for line in sorted(lines):
            out.write(f"{line} {lines[line]}\n")


def timed(argv, stdout_path):
    """Best effort: wall time and peak RSS (KiB) of one run of argv, stdout to a file."""
    with open(stdout_path, "wb") as out:
        start = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.monotonic() - start
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: {err.strip()}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ember", required=True)
    ap.add_argument("--flamegraph-pl", required=True)
    ap.add_argument("--size-mb", type=float, default=34)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", default="/tmp/ember-flamegraph-bench")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    folded = os.path.join(args.work, f"input-{args.size_mb:g}mb.folded")
    if not os.path.exists(folded):
        generate(folded, int(args.size_mb * 1e6))
    size = os.path.getsize(folded)
    lines = sum(1 for _ in open(folded))
    print(f"input: {folded}: {size / 1e6:.1f} MB, {lines:,} unique stacks; load average {os.getloadavg()[0]:.2f}")
    tools = {
        "ember flamegraph": [args.ember, "flamegraph", folded, "-o", "-"],
        "flamegraph.pl": ["perl", args.flamegraph_pl, folded],
    }
    results = {}
    for name, argv in tools.items():
        wall, cpu, rss = None, None, 0
        for _ in range(args.rounds):
            elapsed, used, peak = timed(argv, os.path.join(args.work, name.split()[0] + ".svg"))
            wall = elapsed if wall is None else min(wall, elapsed)
            cpu = used if cpu is None else min(cpu, used)
            rss = max(rss, peak)
        results[name] = (wall, cpu, rss)
    mb = size / 1e6
    print(f"{'':18} {'wall':>8} {'MB/s':>7} {'CPU':>8} {'MB/s':>7} {'peak RSS':>10} {'RSS/input':>9}")
    for name, (wall, cpu, rss) in results.items():
        print(f"{name:18} {wall:7.3f}s {mb / wall:7.1f} {cpu:7.3f}s {mb / cpu:7.1f} {rss / 1024:7.1f} MB {rss * 1024 / size:8.2f}x")
    (ew, ec, _), (pw, pc, _) = results["ember flamegraph"], results["flamegraph.pl"]
    print(f"ember / flamegraph.pl: {pw / ew:.1f}x faster by wall time, {pc / ec:.1f}x by CPU time; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
