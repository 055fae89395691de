#!/usr/bin/env bash
# ember-gate.sh: profile a benchmark in CI, keep the artifacts, and fail on a regression.
#
#   ember-gate.sh [--runs N] [--frequency HZ] [--baseline DIR] [--out DIR] [--threshold PCT]
#                 [--min-share PCT] [--update-baseline] [--] BENCHMARK [ARGS...]
#
# Steps (the same as the GitHub Actions workflow in docs/ci.md):
#   1. record the benchmark N times (default 5; at HZ samples a second, default ember's 999 — raise
#      it for benchmarks shorter than a few seconds) with `ember record`: OUT/run-I.pb.gz and
#      OUT/run-I.json (what was recorded: event, frequency, samples, lost, host, kernel, ...);
#   2. OUT/flamegraph.svg and OUT/report.txt from all runs merged;
#   3. when BASELINE holds profiles: `ember compare` (OUT/compare.md for a pull-request comment,
#      OUT/compare.json) and OUT/diff.svg; the exit status is compare's: 1 on a regression;
#   4. with --update-baseline (on the main branch): the runs become the new baseline.
#
# Exit status: 0 no regression (or no baseline yet), 1 regression, 2 bad input or usage,
# and the benchmark's own status when it fails.
set -euo pipefail

EMBER=${EMBER:-ember}
runs=5
frequency=
baseline=ember-baseline
out=ember-out
threshold=10%
min_share=0.5%
update=0

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --frequency) frequency=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --threshold) threshold=$2; shift 2 ;;
    --min-share) min_share=$2; shift 2 ;;
    --update-baseline) update=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "ember-gate.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
(($# > 0)) || { echo "ember-gate.sh: no benchmark command given" >&2; usage; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "ember-gate.sh: --runs must be a positive number" >&2; exit 2; }
[[ -z "$frequency" || "$frequency" =~ ^[1-9][0-9]*$ ]] ||
  { echo "ember-gate.sh: --frequency must be a positive number" >&2; exit 2; }
record_args=(-q)
[[ -n "$frequency" ]] && record_args+=(-F "$frequency")

mkdir -p "$out"
rm -f "$out"/run-*.pb.gz "$out"/run-*.json

echo "ember-gate: recording $runs run(s) of: $*" >&2
current=()
for ((i = 1; i <= runs; i++)); do
  "$EMBER" record "${record_args[@]}" -o "$out/run-$i.pb.gz" --metadata "$out/run-$i.json" -- "$@"
  current+=("$out/run-$i.pb.gz")
done

"$EMBER" flamegraph "${current[@]}" -o "$out/flamegraph.svg" --title "$(basename "$1"): $runs runs"
"$EMBER" report "${current[@]}" -o "$out/report.txt"

status=0
shopt -s nullglob
base=("$baseline"/*.pb.gz)
if ((${#base[@]} == 0)); then
  echo "ember-gate: no baseline profiles in $baseline yet; nothing to compare" >&2
else
  "$EMBER" diff "${base[0]}" "${current[0]}" -o "$out/diff.svg"
  "$EMBER" compare --baseline "${base[@]}" --current "${current[@]}" \
    --threshold "$threshold" --min-share "$min_share" \
    --markdown "$out/compare.md" --json "$out/compare.json" --fail-on-regression || status=$?
fi

if ((update)); then
  mkdir -p "$baseline"
  rm -f "$baseline"/*.pb.gz
  cp "${current[@]}" "$baseline"/
  echo "ember-gate: baseline in $baseline updated with $runs run(s)" >&2
fi
exit "$status"
