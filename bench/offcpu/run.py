#!/usr/bin/env python3
"""Off-CPU recording cost: a switch-heavy workload (bench/offcpu/pingpong.cpp, two threads
ping-ponging over pipes) alone, under `ember record --off-cpu` (default threshold and threshold 0;
its CPU sampled per CPU, the default with --off-cpu, and per thread) and under
`perf record -e sched:sched_switch --call-graph dwarf`, rounds interleaved; then, like for like
(ember --off-cpu also samples the CPU at 999 Hz), both tools sampling the CPU only and perf
recording cpu-clock and sched_switch together. Prints the workload's slowdown against running
alone (wall time, and the CPU time the workload itself used), each tool's own CPU time per
switch, and whether every switch was accounted for. Needs root (perf's tracepoint wants tracefs,
mounted if absent; ember's per-CPU sampling wants CAP_PERFMON and CAP_BPF).

  sudo bench/offcpu/run.py --ember build/cli/ember --pingpong build/bench/offcpu/pingpong
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


OFF_CPU = "ember --off-cpu (threshold 100 us)"
OFF_CPU_ALL = "ember --off-cpu --off-cpu-threshold 0"
OFF_CPU_THREADS = "ember --off-cpu --sampling per-thread"
PERF_SWITCH = "perf -e sched:sched_switch --call-graph dwarf"
CPU_ONLY = "ember record (CPU samples only, 999 Hz)"
CPU_ONLY_PER_CPU = "ember record --sampling per-cpu (CPU samples only)"
PERF_CPU = "perf -F 999 --call-graph dwarf"
PERF_BOTH = "perf -e cpu-clock/freq=999/ -e sched:sched_switch -g dwarf"


def run(argv):
    """Runs argv to completion: (exit code, stdout, stderr)."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def children_cpu():
    """CPU seconds of every child reaped so far (the tool and the workload it ran)."""
    ru = os.times()
    return ru.children_user + ru.children_system


def workload_figures(text):
    m = re.search(r"wall_s (\S+) cpu_s (\S+) switches (\d+) switches_per_s (\S+)", text)
    if not m:
        raise SystemExit(f"unexpected workload output: {text!r}")
    return {"wall": float(m.group(1)), "cpu": float(m.group(2)), "switches": int(m.group(3)),
            "rate": float(m.group(4))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ember", default="build/cli/ember")
    ap.add_argument("--pingpong", default="build/bench/offcpu/pingpong")
    ap.add_argument("--rounds", type=int, default=100000, help="messages per run")
    ap.add_argument("--work-us", type=float, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--only", default="",
                    help="comma-separated modes to run besides 'alone': off-cpu, off-cpu-all, "
                         "off-cpu-per-thread, perf-switch, cpu, cpu-per-cpu, perf-cpu, perf-both")
    args = ap.parse_args()

    if not args.no_perf and not os.path.exists("/sys/kernel/tracing/events/sched"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=False)
    tmp = tempfile.mkdtemp(prefix="ember-offcpu-bench-")
    workload = [args.pingpong, "--rounds", str(args.rounds), "--work-us", str(args.work_us)]
    # Each ember mode writes its --metadata to its own file (what it counted).
    meta = {}

    def ember(name, *flags):
        meta[name] = f"{tmp}/{len(meta)}.json"
        return lambda: [args.ember, "record", *flags, "-q", "-o", f"{tmp}/e.pb.gz", "--metadata",
                        meta[name], "--"] + workload

    modes = {"alone": lambda: workload}
    modes[OFF_CPU] = ember(OFF_CPU, "--off-cpu")
    modes[OFF_CPU_ALL] = ember(OFF_CPU_ALL, "--off-cpu", "--off-cpu-threshold", "0")
    modes[OFF_CPU_THREADS] = ember(OFF_CPU_THREADS, "--off-cpu", "--sampling", "per-thread")
    if not args.no_perf:
        modes[PERF_SWITCH] = lambda: [
            "perf", "record", "-q", "-e", "sched:sched_switch", "--call-graph", "dwarf", "-o",
            f"{tmp}/perf.data", "--"] + workload
    # Like for like: `ember record --off-cpu` also samples the CPU (999 Hz, DWARF). On-CPU
    # sampling alone, by both tools, and perf recording both kinds at once.
    modes[CPU_ONLY] = ember(CPU_ONLY)
    modes[CPU_ONLY_PER_CPU] = ember(CPU_ONLY_PER_CPU, "--sampling", "per-cpu")
    if not args.no_perf:
        modes[PERF_CPU] = lambda: [
            "perf", "record", "-q", "-F", "999", "--call-graph", "dwarf", "-o", f"{tmp}/perf.data",
            "--"] + workload
        modes[PERF_BOTH] = lambda: [
            "perf", "record", "-q", "-e", "cpu-clock/freq=999/", "-e", "sched:sched_switch",
            "--call-graph", "dwarf", "-o", f"{tmp}/perf.data", "--"] + workload
    if args.only:
        names = {"off-cpu": OFF_CPU, "off-cpu-all": OFF_CPU_ALL, "off-cpu-per-thread": OFF_CPU_THREADS,
                 "perf-switch": PERF_SWITCH, "cpu": CPU_ONLY, "cpu-per-cpu": CPU_ONLY_PER_CPU,
                 "perf-cpu": PERF_CPU, "perf-both": PERF_BOTH}
        wanted = {"alone"} | {names[n] for n in args.only.split(",")}
        modes = {m: argv for m, argv in modes.items() if m in wanted}
    results = {m: [] for m in modes}
    for r in range(args.repeat):
        for mode, argv in modes.items():
            before = children_cpu()
            code, out, err = run(argv())
            total_cpu = children_cpu() - before
            if code != 0:
                print(f"{mode}: exit {code}\n{err}", file=sys.stderr)
                continue
            f = workload_figures(out)
            f["tool_cpu"] = max(0.0, total_cpu - f["cpu"])
            if mode.startswith("ember"):
                m = json.load(open(meta[mode]))
                f["ember"] = m.get("off_cpu", {})
                f["ember"]["cpu_samples_lost"] = m.get("lost_samples")
            if mode.startswith("perf"):
                f["perf_bytes"] = os.path.getsize(f"{tmp}/perf.data")
                stats = subprocess.run(["perf", "report", "-i", f"{tmp}/perf.data", "--stats"],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120,
                                       check=False).stdout.decode()
                samples = re.search(r"SAMPLE events:\s+(\d+)", stats)
                lost = re.findall(r"LOST_SAMPLES events:\s+(\d+)", stats)
                f["perf_samples"] = int(samples.group(1)) if samples else -1
                f["perf_lost"] = max(int(x) for x in lost) if lost else 0
                os.unlink(f"{tmp}/perf.data")
            results[mode].append(f)
        print(f"round {r + 1}/{args.repeat} done", file=sys.stderr)

    with open("/proc/loadavg") as la:
        load = la.read().split()[0]
    base = statistics.median(x["wall"] for x in results["alone"])
    base_cpu = statistics.median(x["cpu"] for x in results["alone"])
    print(f"workload: {args.rounds} messages, {args.work_us} us of work each; median of "
          f"{args.repeat} interleaved rounds; load {load}")
    print(f"{'mode':58} {'wall s':>8} {'slowdown':>9} {'its CPU':>8} {'switches/s':>11} "
          f"{'tool CPU s':>11} {'us/switch':>10}")
    slowdown = {}
    for mode, rs in results.items():
        if not rs:
            continue
        wall = statistics.median(x["wall"] for x in rs)
        rate = statistics.median(x["rate"] for x in rs)
        cpu = statistics.median(x["tool_cpu"] for x in rs)
        own_cpu = statistics.median(x["cpu"] for x in rs)
        switches = statistics.median(x["switches"] for x in rs)
        slowdown[mode] = wall / base - 1
        per = "" if mode == "alone" else f"{1e6 * cpu / switches:10.2f}"
        # The CPU time the workload itself used, against alone: what the tool's work in the
        # workload's context (timers, stack copies at its switches) cost it.
        print(f"{mode:58} {wall:8.3f} {100 * slowdown[mode]:8.1f}% {100 * (own_cpu / base_cpu - 1):7.1f}% "
              f"{rate:11.0f} {cpu:11.3f} {per}")
    for mode, rs in results.items():
        if mode.startswith("ember --off-cpu") and rs:
            e = rs[-1]["ember"]
            print(f"{mode}: last round: workload switches {rs[-1]['switches']}, switch-outs recorded "
                  f"{e.get('switch_outs')}, switch records lost {e.get('lost_records')}, unwound "
                  f"{e.get('unwound')}, short blocks at a place seen before {e.get('remembered')}, "
                  f"not unwound {e.get('not_unwound')}, blocks incomplete "
                  f"{e.get('missing_switch_in', 0) + e.get('missing_stack', 0)}, CPU samples lost "
                  f"{e.get('cpu_samples_lost')}; switch records lost per round "
                  f"{[x['ember'].get('lost_records') for x in rs]}")
        if mode.startswith("perf") and rs:
            print(f"{mode}: last round: {rs[-1]['perf_bytes'] >> 20} MiB written, "
                  f"{rs[-1]['perf_samples']} samples recorded, {rs[-1]['perf_lost']} lost")
    shutil.rmtree(tmp, ignore_errors=True)
    def ratio(a, b):
        if a in slowdown and b in slowdown and slowdown[b] > 0:
            print(f"ratio of slowdowns, {a} / {b}: {slowdown[a] / slowdown[b]:.2f}")

    ratio(OFF_CPU, PERF_SWITCH)
    ratio(OFF_CPU_ALL, PERF_SWITCH)
    ratio(OFF_CPU_THREADS, PERF_SWITCH)
    ratio(OFF_CPU, PERF_BOTH)
    ratio(CPU_ONLY, PERF_CPU)

if __name__ == "__main__":
    main()
