#pragma once
// `ember trend`: a history of recordings of the same workload (CI runs, oldest first), and which
// functions drift — a share or a cost that moves steadily over the runs, or steps up at one run.
// A function that gets 3% slower every week never trips a 10% gate between two runs; over ten
// runs it is 30%, and a trend test sees it.
//
// What is measured, per function and run: self and total share and value, as `ember compare`
// measures them (analysis/compare.h: names as in the flamegraph, shares of the run's total), and
// the CPU time (the "cpu" sample type, when the recordings have one).
//
// The decision rule (every part must hold; mirrored for a function that got faster)
//   1. Relevance: the function's mean share over the runs is at least `min_share` (0.5%).
//   2. Two tests per row, each a one-sided p-value in the direction of the change:
//        • steady trend: the Mann–Kendall test of the shares in run order (rank-based: no
//          assumption about the noise beyond exchangeable runs when nothing changes; exact
//          distribution without ties). Its size is Sen's slope: the fitted line from the first run
//          to the last, as a relative change.
//        • step: for every split of the runs into before and after (at least `min_segment` runs
//          each side), the same test as `ember compare` between the two groups (Welch's t-test on
//          per-run shares floored by the binomial variance); the split with the smallest p wins,
//          and its p is multiplied by the number of splits (Bonferroni: splits are tried, so
//          the best of them must pay for the choice).
//      With `fixed_workload` (every run does the same work, default), each test also runs on the
//      function's own value per run and the larger p counts (compare's intersection–union rule:
//      a share that rises only because everything else got faster is not a drift).
//      The row's p is 2 × the smaller of the two (Bonferroni over the two tests).
//   3. Benjamini–Hochberg over every tested row, p_adjusted < α = 1 − confidence (0.01).
//   4. Size: the change of the test that decided (trend: fitted first → last run; step: mean
//      after / mean before) is at least `threshold` (10%), in share and, with fixed_workload, in
//      value.
//   The whole profile (total per run) is tested the same way on its own at α, as in compare.
//   A drift upwards (slower) fails `--fail-on-drift`; one downwards is listed as an improvement.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "common/error.h"
#include "common/regex.h"

namespace ember::analysis {

struct TrendOptions {
  std::optional<std::string> sample_type;  // default: the first run's pprof default
  double threshold = 0.10;                 // minimum relative change (see rule 4)
  double min_share = 0.005;
  double confidence = 0.99;
  bool fixed_workload = true;
  size_t min_segment = 2;                  // runs on each side of a step
  std::optional<common::Regex> function;   // only functions whose name matches (search)
};

enum class DriftKind { kNone, kTrend, kStep };
enum class DriftDirection { kSlower, kFaster };
std::string_view to_string(DriftKind kind);            // "none", "trend", "step"
std::string_view to_string(DriftDirection direction);  // "slower", "faster"

// The evidence of one series (shares or values of one row, or the whole profile's totals).
struct TrendEvidence {
  MannKendall trend;       // of the shares (the whole profile: of the totals)
  SenSlope slope;          // of the shares, per run
  double trend_change = 0;  // fitted last / fitted first − 1 (shares)
  double trend_value_change = 0;  // the same for the values (fixed_workload)
  double trend_p = 1;      // with fixed_workload the larger of share's and value's p
  size_t step_at = 0;      // first run after the best split (0: no step tested)
  double step_change = 0;        // compare's change at that split (share)
  double step_value_change = 0;  // compare's value change there
  double step_p = 1;       // Bonferroni-corrected over the splits
  double p_value = 1;      // 2 × min(trend_p, step_p), at most 1
  double p_adjusted = 1;   // Benjamini–Hochberg over the function rows (the whole profile: = p)
  DriftKind drift = DriftKind::kNone;
  DriftDirection direction = DriftDirection::kSlower;
};

struct TrendRow {
  std::string name;
  ChangeKind kind = ChangeKind::kSelf;
  std::vector<double> shares;  // per run
  std::vector<double> values;  // per run, in the trend's unit
  std::vector<double> cpu_ns;  // per run; empty when the runs have no cpu sample type
  double mean_share = 0;
  TrendEvidence evidence;
};

struct TrendRun {
  std::string source;
  std::string label;  // what the run is called in tables and charts (the time, else the file)
  int64_t total = 0;  // in the trend's unit
  std::optional<int64_t> cpu_ns;
};

struct Trend {
  std::string sample_type;
  std::string unit;
  TrendOptions options;
  std::vector<TrendRun> runs;  // oldest first, as given
  TrendRow whole;              // name "[whole profile]", kind total, shares all 1
  // Drifts first (slower, then faster), then the rest by mean share; self before total.
  std::vector<TrendRow> functions;
  size_t tests = 0;    // function rows tested (BH's m)
  size_t ignored = 0;  // below min_share, or not matching `function`
  size_t splits = 0;   // step splits tried per row

  size_t drift_count(DriftDirection direction) const;  // function rows and the whole profile
  bool drifted() const { return drift_count(DriftDirection::kSlower) != 0; }
};

// One recording in the history; `label` names it in tables (e.g. its recording time).
struct TrendInput {
  ProfileRun run;
  std::string label;
};

// Errors (kInvalidArgument): fewer than 3 runs; invalid options; sample types that differ between
// runs (naming both files and both types, as compare does); a run with no samples (its file).
[[nodiscard]] Result<Trend> trend(std::span<const TrendInput> runs, const TrendOptions& options = {});

// Terminal: headline, the whole profile, drifting rows, then the `top` rows by mean share with
// their share per run (top 0: all).
std::string format_trend_text(const Trend& trend, size_t top = 10);
// A pull-request or job-summary comment: "### ❌ 2 functions drifting" / "### ✅ no drift", tables
// of drifts and of the top functions per run, how it was decided.
std::string format_trend_markdown(const Trend& trend, size_t top = 10);
// JSON, stable field names, shares and changes as fractions ("version": 1); see docs in
// analysis/README.md.
nlohmann::json to_json(const Trend& trend, size_t top = 0);
std::string format_trend_json(const Trend& trend, size_t top = 0, int indent = 2);

// The rows a report shows: every drift, then the largest mean shares up to `top` (0: all).
std::vector<const TrendRow*> shown_rows(const Trend& trend, size_t top);

}  // namespace ember::analysis
