#pragma once
// `ember compare`: the regression gate. Compares one or more baseline recordings with one or more
// current recordings of the same workload and decides, per function, whether it got slower.
//
// What is compared
//   Per function and per run, the share of the profile: self share = self value / run total and
//   total share = total value / run total (self and total as in analysis/report.h, names as in the
//   flamegraph). Shares, not raw values, because they do not move when a whole run is faster or
//   slower (another CPU, a shorter window). The whole profile is compared on its total value per
//   run (e.g. the CPU time of the benchmark).
//   change = mean current share / mean baseline share − 1.
//
// The decision rule (every part must hold for a regression; mirrored for an improvement)
//   1. Relevance: the function has at least `min_share` (default 0.5%) of the profile in the
//      baseline or in the current runs (mean share). Smaller ones are not tested at all.
//   2. Size: change ≥ +threshold (default 10%; the threshold itself counts).
//   3. Beyond noise: a one-sided test in the direction of the change gives, after the
//      Benjamini–Hochberg adjustment over all tested function rows, p < α = 1 − confidence
//      (default α = 0.01).
//        • ≥ 2 runs on a side: Welch's t-test on the per-run shares. Each side's run-to-run
//          variance is floored by the binomial sampling variance p(1−p)/N (p the side's mean share,
//          N a run's sample count): identical runs do not claim infinite precision, and the
//          observed spread already contains the sampling noise, so the two are not added. A side
//          with one run contributes its binomial variance, known, with infinite degrees of freedom.
//        • 1 run per side: the two-proportion z-test (pooled) on sample counts, x = share × N.
//          Sampling noise is the only noise one run can show; run-to-run noise (other load, CPU
//          frequency) is then left to the threshold — record several runs per side to measure it.
//      Testing 100 functions at α each would flag one by chance. With Benjamini–Hochberg, when
//      nothing changed the chance of flagging any function stays at most α however many are
//      tested; when something did change, at most a fraction α of the flagged rows is expected
//      to be noise. (Guaranteed for independent or positively dependent tests; shares are
//      slightly negatively dependent, so the rates are measured too: analysis/README.md.)
//      Holm's stricter bound was tried first: with 3 runs per side, Welch's few degrees of
//      freedom then hid a function made twice as slow in a third of the comparisons.
//   4. Attribution (fixed_workload, default): a share also rises when the rest of the program got
//      faster. When every run does the same work, absolute values are comparable, so the
//      function's own value per run (share × run total) must have moved the same way by at least
//      the threshold too, beyond noise: the same Welch/z test on per-run values, each run floored
//      by the Poisson variance of its sample count (value × value-per-sample). The row's p-value
//      is the larger of the two (an intersection-union test: a valid p-value for "not both"),
//      and that is what is adjusted. A row whose share alone would be flagged (uncorrected) but
//      whose value did not follow by the threshold is marked explained_by_rest.
//      With fixed_workload = false (windows of a server under changing load) only shares count
//      and the whole profile is shown but not tested.
//   The whole profile: total per run, the same Welch/z test floored by the Poisson variance
//   total²/N, tested on its own at α (not adjusted with the functions): it answers a different
//   question — did the run get slower? — and must not lose power because many functions were
//   tested. A gate on an unchanged program therefore fails with probability at most 2α.
//   New (absent in every baseline run) and gone (absent in every current run) functions above
//   min_share are listed but are not regressions by themselves: a renamed function would otherwise
//   fail the gate; a new function that costs time shows as a regression of its callers' totals and
//   of the whole profile.
//   A total row is left out when it equals the self row in every run (the function called nothing
//   that was sampled): it would repeat the self row's verdict.
//
// N, the sample count of a run: the total of its "samples"/"count" sample type when it has one
// (ember and Go CPU profiles do), else total / period when the period is in the compared unit,
// else the number of distinct samples — a lower bound, so the test errs towards "unchanged".

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/statistics.h"
#include "common/error.h"
#include "profile/profile.h"

namespace ember::analysis {

struct CompareOptions {
  std::optional<std::string> sample_type;  // default: the first baseline's pprof default
  double threshold = 0.10;                 // minimum relative change of the mean share
  double min_share = 0.005;  // functions below this share in both baseline and current are ignored
  double confidence = 0.99;  // α = 1 − confidence, for adjusted p-values
  bool fixed_workload = true;  // every run does the same work (see rule 4)
};

// Checks ranges: threshold ≥ 0, 0 ≤ min_share < 1, 0 < confidence < 1.
[[nodiscard]] Result<void> validate(const CompareOptions& options);

// One recording; `source` names it in errors and output (usually the file name).
struct ProfileRun {
  std::string source;
  const profile::Profile* profile = nullptr;  // not owned; must outlive compare()
};

enum class ChangeKind { kSelf, kTotal };
enum class Verdict { kRegression, kImprovement, kUnchanged, kNew, kGone };
std::string_view to_string(ChangeKind kind);  // "self", "total"
std::string_view to_string(
    Verdict verdict);  // "regression", "improvement", "unchanged", "new", "gone"
std::string_view to_string(TestMethod method);  // "none", "welch_t", "z"

struct FunctionChange {
  std::string name;
  ChangeKind kind = ChangeKind::kSelf;
  double baseline_share = 0;  // mean over runs
  double current_share = 0;
  double baseline_value = 0;  // mean value per run, in the sample type's unit
  double current_value = 0;
  double change = 0;        // relative change of the mean share; +inf for new
  double value_change = 0;  // relative change of the mean value; +inf for new
  TestResult share_test;    // method kNone for new and gone
  TestResult value_test;    // method kNone also without fixed_workload
  double p_value = 1;       // the row's: share test's, or the larger of both with fixed_workload
  double p_adjusted = 1;    // Benjamini–Hochberg-adjusted over all tested function rows
  Verdict verdict = Verdict::kUnchanged;
  bool explained_by_rest = false;  // share change flagged alone, but the value did not follow
};

struct WholeProfileChange {
  std::vector<int64_t> baseline_totals;  // per run
  std::vector<int64_t> current_totals;
  std::vector<double> baseline_samples;  // N per run
  std::vector<double> current_samples;
  double baseline_mean = 0;
  double current_mean = 0;
  double change = 0;  // relative change of the mean total
  TestResult test;    // at α on its own; method kNone when fixed_workload is off
  Verdict verdict = Verdict::kUnchanged;  // always unchanged when fixed_workload is off
};

struct Comparison {
  std::string sample_type;
  std::string unit;
  CompareOptions options;  // the settings used
  std::vector<std::string> baseline_sources;
  std::vector<std::string> current_sources;
  WholeProfileChange whole;
  // Every relevant row: regressions, improvements, new, gone, unchanged; within each, the
  // largest absolute change of share first, then name, then self before total.
  std::vector<FunctionChange> functions;
  size_t tests = 0;    // tested function rows (the adjustment's m)
  size_t ignored = 0;  // function rows below min_share on both sides

  size_t count(Verdict verdict) const;  // function rows with this verdict
  // Function regressions plus the whole profile's.
  size_t regression_count() const;
  bool regressed() const { return regression_count() != 0; }
  TestMethod method() const;  // the test used for shares: kZ with one run per side, else kWelchT
};

// Errors (kInvalidArgument): no baseline or no current run; invalid options; a run whose sample
// types do not include the compared one, or whose default differs when none was asked for
// (the message names both runs and both types); a run with a zero total.
[[nodiscard]] Result<Comparison> compare(std::span<const ProfileRun> baseline,
                           std::span<const ProfileRun> current, const CompareOptions& options = {});

// Terminal: a headline, the whole-profile line, a table of every row that is not unchanged
// (all rows with `all`), and the settings.
std::string format_comparison_text(const Comparison& comparison, bool all = false);

// A pull-request comment: "### ❌ 2 regressions" or "### ✅ no regression", the whole profile,
// tables of regressions, improvements, new and gone functions (at most `max_rows` each, the rest
// counted), then how it was decided, the settings and the runs.
std::string format_comparison_markdown(const Comparison& comparison, size_t max_rows = 25);

// JSON, stable field names; shares and changes are fractions, values in `unit`, infinities null:
//   {
//     "version": 1, "regressed": true, "regressions": 3,
//     "sample_type": "cpu", "unit": "nanoseconds", "method": "welch_t" | "z",
//     "settings": {"threshold": 0.1, "min_share": 0.005, "confidence": 0.99, "alpha": 0.01,
//                  "fixed_workload": true},
//     "runs": {"baseline": ["a.pb.gz", ...], "current": [...]},
//     "tests": 15, "ignored": 4,
//     "counts": {"regression": 2, "improvement": 0, "new": 0, "gone": 0, "unchanged": 15},
//     "whole_profile": {"baseline_totals": [...], "current_totals": [...],
//                       "baseline_mean": ..., "current_mean": ..., "change": 0.2,
//                       "test": {...}, "verdict": "regression"},
//     "functions": [{"name": "hash", "kind": "self", "baseline_share": 0.2, "current_share": 0.33,
//                    "baseline_value": ..., "current_value": ..., "change": 0.66,
//                    "value_change": 1.0, "verdict": "regression", "explained_by_rest": false,
//                    "p_value": 1e-40, "p_adjusted": 1e-39,
//                    "share_test": {"method": "z", "statistic": 21.3, "df": null, "p_value":
//                    1e-99}, "value_test": {"method": "z", "statistic": 13.3, "df": null,
//                    "p_value": 1e-40}},
//                   ...]
//   A test's "method" is "welch_t", "z" or "none" (then its other fields are null); "df" is null
//   for z.
//   }
nlohmann::json to_json(const Comparison& comparison);
std::string format_comparison_json(const Comparison& comparison, int indent = 2);

}  // namespace ember::analysis
