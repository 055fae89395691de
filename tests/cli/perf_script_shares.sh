#!/bin/sh
# perf's own text of a run and ember's recording of the same run give the same stacks: while
# the 70/30 workload runs, `perf record -g` and `ember record --call-graph fp` sample it at the
# same rate; `perf script` text converted by ember must give compute_alpha and compute_beta the
# shares ember recorded under the same call chain, within 1 point. Both sample the same
# execution, so the difference is far below that of two runs; with fewer than 500 samples each
# (a machine too loaded to run the workload) the test is skipped, saying so, not passed.
#   perf_script_shares.sh EMBER SEVENTY_THIRTY OUTDIR
# Exit 77 (skipped) when perf is absent or may not sample here.
set -eu
ember=$1 workload=$2 out=$3
command -v perf >/dev/null 2>&1 || { echo "perf_script_shares: skipped: perf is not installed (Debian: linux-perf)"; exit 77; }
mkdir -p "$out"
cd "$out"
rm -f perf.data perf.txt perf.folded ember.folded
"$workload" --seconds 6 &
target=$!
trap 'kill $target 2>/dev/null || true' EXIT
sleep 0.3
# -N -B: no build-id cache (perf 6.1's build-id code aborts on some binaries in `perf script`).
perf record -q -e cpu-clock -F 999 -g -N -B -o perf.data -p "$target" -- sleep 4 >perf.log 2>&1 &
recorder=$!
"$ember" record -q -F 999 --call-graph fp -p "$target" -d 4 -o ember.folded 2>ember.log
if ! wait "$recorder"; then
  echo "perf_script_shares: skipped: perf record cannot sample here: $(tail -n 1 perf.log)"
  exit 77
fi
perf script -i perf.data >perf.txt 2>perf_script.log
"$ember" convert perf.txt -o perf.folded

# share FILE FUNCTION: "PERCENT SAMPLES" for the stacks that run
# main;truth::run;truth::Worker::step;FUNCTION
share() {
  awk -v f="truth::run;truth::Worker::step;truth::Worker::$2" '
    { n = $NF; total += n; if (index($0, f)) hit += n }
    END { if (total == 0) { print "none 0"; exit } printf "%.2f %d\n", 100 * hit / total, total }' "$1"
}
status=0
for fn in compute_alpha compute_beta; do
  mine=$(share ember.folded "$fn")
  theirs=$(share perf.folded "$fn")
  verdict=$(echo "$mine $theirs" | awk '{
    a = $1; n = $2; b = $3; m = $4
    if (a == "none" || b == "none") { print "FAIL: no samples"; exit }
    if (n < 500 || m < 500) { print "too few samples"; exit }
    d = a - b; if (d < 0) d = -d
    printf "%s: differ by %.2f points (allowed 1)", (d <= 1 ? "ok" : "FAIL"), d }')
  echo "perf_script_shares: $fn: ember ${mine%% *}% of ${mine##* }, perf script ${theirs%% *}% of ${theirs##* }: $verdict"
  case $verdict in
    ok:*) ;;
    "too few samples") [ $status -eq 1 ] || status=77 ;;
    *) status=1 ;;
  esac
done
[ $status -ne 77 ] || echo "perf_script_shares: skipped: fewer than 500 samples (a loaded machine); see above"
exit $status
