#!/usr/bin/env python3
"""Per-address cost of ember's symbolizer against addr2line, llvm-symbolizer and eu-addr2line.

Every tool starts cold (a new process: no cache of its own), gets the same unique code
addresses on stdin, and prints function, file and line for every frame, inlined ones
included. The time is the wall clock of the whole process (start-up, reading the binary,
indexing, lookups, output), median of several runs, divided by the number of addresses.
"""

import argparse
import random
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
        current.append((function, file if file != "??" else "", number))
    return result


def agreement(reference, other):
    """Share of addresses whose innermost file:line and outermost function agree."""
    same = 0
    for address, frames in reference.items():
        theirs = other.get(address)
        if theirs and frames and frames[0][1:] == theirs[0][1:] and frames[-1][0] == theirs[-1][0]:
            same += 1
    return 100.0 * same / max(1, len(reference))


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
        times = []
        for run in range(args.runs):
            begin = time.perf_counter()
            done = subprocess.run(command, input=stdin, capture_output=True, text=True)
            times.append(time.perf_counter() - begin)
            if done.returncode != 0:
                sys.exit(f"{name} failed: {done.stderr.strip()}")
            outputs[name] = done.stdout
            if times[-1] > 20:  # eu-addr2line on a large binary: once is enough
                break
        rows.append((name, statistics.median(times), len(times)))

    reference = parse_gnu(outputs["ember"]) if "ember" in outputs else {}
    ember_time = rows[0][1] if rows and rows[0][0] == "ember" else None
    print(f"binary: {args.binary}")
    print(f"addresses: {len(addresses)} unique, random code addresses (seed {args.seed}); "
          f"median of up to {args.runs} cold runs")
    print(f"{'tool':<20} {'total ms':>10} {'us/address':>11} {'x ember':>8} {'agrees %':>9}")
    for name, seconds, runs in rows:
        ratio = f"{seconds / ember_time:.2f}" if ember_time else "-"
        agrees = f"{agreement(reference, parse_gnu(outputs[name])):.1f}" if name != "ember" else "-"
        print(f"{name:<20} {seconds * 1000:>10.1f} {seconds * 1e6 / len(addresses):>11.1f} {ratio:>8} "
              f"{agrees:>9}")


if __name__ == "__main__":
    main()
