#!/usr/bin/env bash
# emberd's own cost: CPU (% of one core) and RSS while it profiles the whole host at its
# default settings (99 Hz, DWARF or its frame-pointer fallback, one snapshot a minute) and a
# CPU-bound workload keeps every core busy; and the snapshot bytes written per minute.
#
#   bench/daemon/run.sh [SECONDS]        default 600 (ten minutes); needs root (perf, all CPUs)
#
# Figures, not pass/fail: the goals are <= 1% of one core and RSS < 64 MiB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EMBER_BUILD_DIR:-$root/build}
seconds=${1:-600}
emberd=$build/daemon/emberd
workload=$build/tests/fixtures/workloads/seventy_thirty
for f in "$emberd" "$workload"; do
  [[ -x $f ]] || { echo "missing $f: build first (scripts/build)" >&2; exit 2; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The load: the 70/30 program (known stacks, frame pointers) on every CPU.
ncpu=$(nproc)
for _ in $(seq "$ncpu"); do
  "$workload" --seconds $((seconds + 120)) >/dev/null &
  pids+=($!)
done

"$emberd" --listen 127.0.0.1:0 --data-dir "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
epid=$!
pids+=("$epid")
url=
for _ in $(seq 600); do
  url=$(sed -n 's/^emberd: serving //p' "$tmp/out")
  [[ -n $url ]] && break
  kill -0 "$epid" 2>/dev/null || { cat "$tmp/err" >&2; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "emberd did not start" >&2; exit 1; }

ticks() { awk '{ print $14 + $15 }' "/proc/$epid/stat"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$epid/status"; }
metric() { curl -sf "${url}metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Start-up (opening the events, the first /proc scan) is not the steady state.
sleep 15
hz=$(getconf CLK_TCK)
t0=$(ticks)
w0=$(date +%s.%N)
samples0=$(metric emberd_samples_total)
rss_max=0
rss_sum=0
rss_n=0
end=$(( $(date +%s) + seconds ))
while (( $(date +%s) < end )); do
  sleep 10
  r=$(rss_kib)
  (( r > rss_max )) && rss_max=$r
  rss_sum=$((rss_sum + r))
  rss_n=$((rss_n + 1))
done
t1=$(ticks)
w1=$(date +%s.%N)
samples1=$(metric emberd_samples_total)
lost=$(metric emberd_lost_samples_total)
call_graph=$(curl -sf "${url}healthz" | sed -n 's/.*"call_graph": "\([a-z]*\)".*/\1/p')
load=$(cut -d' ' -f1-3 /proc/loadavg)
snapshots=$(find "$tmp/data" -maxdepth 1 -name '*.pb.gz' | wc -l)
bytes=$(find "$tmp/data" -maxdepth 1 -name '*.pb.gz' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')

# Queries over the whole run (every snapshot and the live window): first (decoding every
# snapshot) and again (from the decoded-snapshot cache).
query_cold=$(curl -sf -o "$tmp/q.svg" -w '%{time_total}' "${url}api/v1/flamegraph.svg?from=-1h")
query_warm=$(curl -sf -o /dev/null -w '%{time_total}' "${url}api/v1/flamegraph.svg?from=-1h")
pprof_bytes=$(curl -sf "${url}api/v1/profile.pb.gz?from=-1h" | wc -c)
symbolize_ms=$(grep -o 'symbolize_cpu_ms=[0-9.]*' "$tmp/err" | cut -d= -f2 | sort -n |
               awk '{ v[NR] = $1; s += $1 } END { if (NR) printf "%.0f ms mean, %.0f ms median, %.0f ms max", s / NR, v[int((NR + 1) / 2)], v[NR] }')

awk -v t0="$t0" -v t1="$t1" -v hz="$hz" -v w0="$w0" -v w1="$w1" -v rmax="$rss_max" \
    -v rsum="$rss_sum" -v rn="$rss_n" -v s0="$samples0" -v s1="$samples1" -v lost="$lost" \
    -v snaps="$snapshots" -v bytes="$bytes" -v ncpu="$ncpu" -v load="$load" -v cg="$call_graph" \
    -v secs="$seconds" -v qc="$query_cold" -v qw="$query_warm" -v pb="$pprof_bytes" \
    -v sym="$symbolize_ms" 'BEGIN {
  wall = w1 - w0; cpu = (t1 - t0) / hz
  printf "emberd, default settings (99 Hz, %s stacks, 60 s snapshots), %d CPUs busy with the 70/30 workload\n", cg, ncpu
  printf "  measured:        %.0f s (after 15 s of start-up), load average %s\n", wall, load
  printf "  CPU:             %.2f s = %.3f%% of one core\n", cpu, 100 * cpu / wall
  printf "  RSS:             %.1f MiB max, %.1f MiB mean\n", rmax / 1024, rsum / rn / 1024
  printf "  samples:         %d (%.0f/s), %d lost\n", s1 - s0, (s1 - s0) / wall, lost
  printf "  snapshots:       %d files, %d bytes: %.1f KiB per minute\n", snaps, bytes, bytes / 1024 / ((wall + 15) / 60)
  printf "  per snapshot:    symbolization %s of CPU\n", sym
  printf "  query:           flamegraph of the whole run %.2f s first, %.2f s again; its pprof %d bytes\n", qc, qw, pb
}'
