#!/usr/bin/env bash
# Builds what the benchmark needs and prints the table: µs per unique address for ember,
# llvm-symbolizer-14, addr2line and eu-addr2line on the same addresses, each started cold.
#   bench/symbolize/run.sh [BINARY] [COUNT] [RUNS]
# BINARY defaults to the symbolizer's test program (RelWithDebInfo: -O2 -g, ~20 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${EMBER_BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S . -B "$build_dir" -G Ninja >/dev/null
fi
ninja -C "$build_dir" -j2 ember-symbolize-bench symbolizer_test >/dev/null
binary=${1:-$build_dir/tests/symbolizer/symbolizer_test}
exec python3 bench/symbolize/bench.py --ember "$build_dir/bench/symbolize/ember-symbolize-bench" \
  --binary "$binary" --count "${2:-2000}" --runs "${3:-5}"
