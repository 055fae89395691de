#!/usr/bin/env python3
"""Per-address cost of ember's symbolizer against addr2line, llvm-symbolizer and eu-addr2line.

Every tool starts cold (a new process: no cache of its own), gets the same unique code
addresses on stdin, and prints function, file and line for every frame, inlined ones
included. The time is the CPU time of the whole process (start-up, reading the binary,
indexing, lookups, output), median of several runs, divided by the number of addresses; CPU
rather than wall-clock time because the machine is shared. The page cache is warmed first.
"""

import argparse
import os
import random
import resource
import re
import shutil
import statistics
import subprocess
import sys
import time


def code_addresses(binary, count, seed):
    """Unique addresses inside function symbols (not in padding), spread by function size."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    functions = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            start, size = int(parts[0], 16), int(parts[1], 16)
            if size > 0:
                functions.append((start, size))
    if not functions:
        sys.exit(f"{binary}: no sized function symbols (is it stripped?)")
    total = sum(size for _, size in functions)
    if total < count:
        sys.exit(f"{binary}: only {total} bytes of code, fewer than {count} addresses")
    rng = random.Random(seed)
    weights = [size for _, size in functions]
    chosen = set()
    while len(chosen) < count:
        start, size = rng.choices(functions, weights)[0]
        chosen.add(start + rng.randrange(size))
    addresses = sorted(chosen)
    rng.shuffle(addresses)  # the order a profile would not sort them in
    return addresses


def parse_gnu(text):
    """addr2line -a style output: address line, then function/location pairs per frame."""
    result, current = {}, None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.fullmatch(r"0x[0-9a-f]+", line):
            current = result.setdefault(int(line, 16), [])
            i += 1
            continue
        function = line
        location = lines[i + 1] if i + 1 < len(lines) else "??:0"
        i += 2
        location = re.sub(r" \(discriminator \d+\)", "", location)
        # "file:line", or "file:line:column" (elfutils); "??:0" or "??:?" when unknown.
        match = re.fullmatch(r"(.*?):(\d+|\?)(?::\d+)?", location)
        file, number = (match.group(1), match.group(2)) if match else ("??", "0")
        number = 0 if number == "?" else int(number)
        function = function.split(" inlined at ")[0]  # elfutils names the caller on the same line
        # Clones are spelled differently by each demangler: "f() [clone .cold]", "f() (.cold)".
        function = re.sub(r" \[clone [^\]]*\]| \(\.[\w.]+\)", "", function)
        # Without DWARF, addr2line and llvm-symbolizer name the object file (STT_FILE): no source.
        if file == "??" or (number == 0 and file.endswith(".o")):
            file = ""
        current.append((function, file, number))
    return result


def agreement(reference, other):
    """Shares of addresses with the same frames (count, files and lines of every frame) and with
    the same function name for the outermost frame (demanglers differ in style: "{lambda()#1}"
    against "'lambda'()", "decltype(nullptr)" against "std::nullptr_t")."""
    same_lines = same_names = 0
    for address, frames in reference.items():
        theirs = other.get(address) or []
        if [f[1:] for f in frames] == [f[1:] for f in theirs]:
            same_lines += 1
        if frames and theirs and frames[-1][0] == theirs[-1][0]:
            same_names += 1
    total = max(1, len(reference))
    return 100.0 * same_lines / total, 100.0 * same_names / total


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ember", required=True, help="the ember-symbolize-bench program")
    parser.add_argument("--binary", required=True, help="an ELF file with DWARF")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    addresses = code_addresses(args.binary, args.count, args.seed)
    stdin = "".join(f"0x{a:x}\n" for a in addresses)
    tools = [
        ("ember", [args.ember, "--full-names", "-e", args.binary]),
        ("llvm-symbolizer-14", ["llvm-symbolizer-14", "--output-style=GNU", "-a", "-f", "-i", "-C",
                                f"--obj={args.binary}"]),
        ("addr2line", ["addr2line", "-a", "-f", "-i", "-C", "-e", args.binary]),
        ("eu-addr2line", ["eu-addr2line", "-a", "-f", "-i", "-C", "-e", args.binary]),
    ]
    rows, outputs = [], {}
    for name, command in tools:
        if shutil.which(command[0]) is None:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        cpu_times, wall_times = [], []
        for run in range(args.runs + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            begin = time.perf_counter()
            done = subprocess.run(command, input=stdin, capture_output=True, text=True)
            wall = time.perf_counter() - begin
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # eu-addr2line exits with 1 when some address had no answer: only no output is failure.
            if done.returncode != 0 and not done.stdout:
                sys.exit(f"{name} failed (exit {done.returncode}): {done.stderr.strip()}")
            outputs[name] = done.stdout
            if run == 0 and wall < 20:
                continue  # the first run only warms the page cache for the binary
            cpu_times.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            wall_times.append(wall)
            if wall > 20:  # eu-addr2line on a large binary: once is enough
                break
        rows.append((name, statistics.median(cpu_times), statistics.median(wall_times), len(cpu_times)))

    reference = parse_gnu(outputs["ember"]) if "ember" in outputs else {}
    ember_cpu = rows[0][1] if rows and rows[0][0] == "ember" else None
    print(f"binary: {args.binary} ({os.path.getsize(args.binary) / 1e6:.1f} MB)")
    print(f"addresses: {len(addresses)} unique random code addresses (seed {args.seed}); each tool "
          f"started cold {args.runs} times, median CPU time (user+sys) of the process")
    print(f"{'tool':<20} {'cpu ms':>8} {'wall ms':>8} {'us/address':>11} {'x ember':>8} "
          f"{'same frames %':>14} {'same function %':>16}")
    warm = subprocess.run([args.ember, "--full-names", "--warm", "20", "-e", args.binary], input=stdin,
                          capture_output=True, text=True)
    warm_line = next((l for l in warm.stderr.splitlines() if l.startswith("warm: ")), None)
    for name, cpu, wall, runs in rows:
        ratio = f"{cpu / ember_cpu:.2f}" if ember_cpu else "-"
        if name == "ember":
            lines = names = "-"
        else:
            same_lines, same_names = agreement(reference, parse_gnu(outputs[name]))
            lines, names = f"{same_lines:.1f}", f"{same_names:.1f}"
        print(f"{name:<20} {cpu * 1000:>8.1f} {wall * 1000:>8.1f} {cpu * 1e6 / len(addresses):>11.1f} "
              f"{ratio:>8} {lines:>14} {names:>16}")
    if warm_line:
        print(f"ember, binary already indexed (a daemon's later windows): {warm_line[6:]}")


if __name__ == "__main__":
    main()
