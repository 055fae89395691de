#!/usr/bin/env bash
# Writes the seed inputs of the python_line_table fuzz target (fuzz/python_line_table.cpp): the
# line tables of a small function as each installed CPython compiles it (3.8–3.9 co_lnotab,
# 3.10 co_linetable, 3.11+ location entries), each after its header (format byte, first line,
# an instruction offset).
#
#   fuzz/seeds/python_line_tables.sh fuzz/corpus/python_line_table
set -euo pipefail
out=${1:?usage: python_line_tables.sh OUTPUT_DIR}
mkdir -p "$out"
for python in "${PYENV_ROOT:-/root/.pyenv}"/versions/3.*/bin/python3 /usr/bin/python3; do
  [[ -x "$python" ]] || continue
  "$python" - "$out" <<'PY'
import struct, sys

def work(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i * 2
        else:
            total -= 1
    try:
        total //= n
    except ZeroDivisionError:
        total = -1
    return total

code = work.__code__
v = sys.version_info
if v < (3, 10):
    fmt, table = 0, code.co_lnotab
elif v < (3, 11):
    fmt, table = 1, code.co_linetable
else:
    fmt, table = 2, code.co_linetable
name = f"{sys.argv[1]}/py{v.major}.{v.minor}.bin"
with open(name, "wb") as f:
    f.write(struct.pack("<BiQ", fmt, code.co_firstlineno, 2 * (len(code.co_code) // 4)) + table)
PY
done
