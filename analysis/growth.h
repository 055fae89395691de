#pragma once
// `ember scale`: how each function's cost grows with the input size. The same program recorded at
// several sizes (and repeats); per function, its CPU time against the size on a log–log scale:
// value ≈ c · size^k, where k, the growth exponent, is ≈ 1 for linear work and ≈ 2 for quadratic.
//
// The fit: weighted least squares of ln(value) on ln(size) over every recording in which the
// function has samples. A value made of c samples varies like c (Poisson), so ln(value) has a
// variance of about 1/c: each point is weighted by its sample count. Its confidence interval uses
// the larger of that sampling variance and the scatter the points actually show (residual
// variance; then Student's t with points − 2 degrees of freedom).
// The fit is called poor when the points scatter around the line more than twice as much as
// sampling explains and by more than 10% (root-mean-square residual in ln units above 0.1): a
// cache that stops fitting, a changed algorithm, a bend the exponent does not describe.
// A function is flagged when even the low end of its self time's interval exceeds `flag_above`
// (1.2: faster than linear, beyond n log n over a decade). Totals are fitted and listed but not
// flagged: a caller's total grows as fast as its fastest callee.

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

struct GrowthOptions {
  std::optional<std::string> sample_type;  // default: "cpu" when every run has it, else the default
  double confidence = 0.95;                // of the exponent's interval
  double min_share = 0.005;                // of the run at some size, to be fitted
  double flag_above = 1.2;
  std::optional<common::Regex> function;   // only functions whose name matches (search)
};

struct GrowthInput {
  double size = 0;
  ProfileRun run;
};

struct GrowthFit {
  double exponent = 0;
  double low = 0;  // confidence interval of the exponent
  double high = 0;
  double coefficient = 0;    // c in c · size^k, in the unit
  double residual_rms = 0;   // root-mean-square residual, ln units (weighted)
  double dispersion = 1;     // residual variance / sampling variance (≥ 1 when used)
  size_t points = 0;         // recordings used (those where the function had samples)
  size_t sizes = 0;          // distinct sizes among them
  bool poor = false;
  bool fitted = false;       // false with fewer than 2 distinct sizes
};

struct GrowthRow {
  std::string name;
  ChangeKind kind = ChangeKind::kSelf;
  std::vector<double> values;  // per input, in the unit (0: no samples there)
  double max_share = 0;
  GrowthFit fit;
  bool flagged = false;
};

struct Growth {
  std::string sample_type;
  std::string unit;
  GrowthOptions options;
  std::vector<double> sizes;        // per input
  std::vector<std::string> sources; // per input
  size_t distinct_sizes = 0;
  GrowthRow whole;                  // "[whole profile]": the total per run
  // Flagged first, then by exponent, largest first; self before total on equal exponents.
  std::vector<GrowthRow> functions;
  size_t ignored = 0;

  size_t flagged_count() const;
  bool too_few_sizes() const { return distinct_sizes < 3; }
};

// Errors (kInvalidArgument): no input; a size not above 0; sample types that differ (naming both
// files and types); a recording with no samples (its file).
[[nodiscard]] Result<Growth> fit_growth(std::span<const GrowthInput> inputs, const GrowthOptions& options = {});

// The weighted log–log fit itself: points (size, value, weight). Exposed for tests.
GrowthFit fit_power_law(std::span<const double> sizes, std::span<const double> values,
                        std::span<const double> weights, double confidence);

std::string format_growth_text(const Growth& growth, size_t top = 20);
std::string format_growth_markdown(const Growth& growth, size_t top = 20);
nlohmann::json to_json(const Growth& growth);
std::string format_growth_json(const Growth& growth, int indent = 2);

}  // namespace ember::analysis
