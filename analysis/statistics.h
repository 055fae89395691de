#pragma once
// The few statistical tools the regression gate needs, written out so that their behaviour is
// documented and tested here rather than borrowed from a numerics library for three functions.

#include <limits>
#include <span>
#include <vector>

namespace ember::analysis {

inline constexpr double kInfiniteDf = std::numeric_limits<double>::infinity();

// P(Z > z) for a standard normal Z.
double normal_sf(double z);

// P(T > t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's test
// gives, or kInfiniteDf for the normal limit). NaN when df <= 0.
double student_t_sf(double t, double df);

// I_x(a, b), the regularized incomplete beta function (a, b > 0, 0 <= x <= 1).
double regularized_incomplete_beta(double a, double b, double x);

// Which test produced a TestResult.
enum class TestMethod {
  kNone,    // not tested (new or gone, or below min_share)
  kWelchT,  // Welch's t-test on per-run values (>= 2 runs on at least one side)
  kZ,       // normal approximation: one run per side
};

struct TestResult {
  TestMethod method = TestMethod::kNone;
  double statistic = 0;  // t or z, positive when the current mean is higher
  double df = kInfiniteDf;
  // One-sided p-value in the direction of the observed change: P(stat >= observed) when the
  // current mean is higher, P(stat <= observed) when lower.
  double p_value = 1;
};

// Welch's two-sample t-test of mean(current) against mean(baseline).
// `*_floor` is the smallest variance one run can have (its sampling variance): the observed
// run-to-run variance is raised to it, so that identical runs do not claim infinite precision.
// A side with a single run has only its floor, known exactly, and so adds no uncertainty to the
// degrees of freedom (Welch–Satterthwaite with df = infinity for that side); with one run on both
// sides the result is a z-test.
TestResult welch_test(std::span<const double> baseline, double baseline_floor,
                      std::span<const double> current, double current_floor);

// Two-proportion z-test with the pooled proportion: x1 of n1 against x2 of n2 observations.
// x and n may be fractional (weighted samples scaled to the sample count).
TestResult two_proportion_z_test(double x1, double n1, double x2, double n2);

// Benjamini–Hochberg adjusted p-values (q-values), in the order of the input: rejecting every
// hypothesis whose adjusted p is below alpha keeps the expected share of false rejections among
// the rejections at most alpha; when every hypothesis is true, that is the chance of any false
// rejection at all.
std::vector<double> benjamini_hochberg_adjust(std::span<const double> p_values);

// z with P(Z > z) = p, for 0 < p < 1 (by bisection on normal_sf: exact to 1e-12, and only ever
// called a few times per report).
double normal_quantile_upper(double p);

// t with P(T > t) = p for Student's t with `df` degrees of freedom (df > 0; kInfiniteDf: normal).
double student_t_quantile_upper(double p, double df);

// The Mann–Kendall trend test of a series in its order (runs oldest first): S = Σ_{i<j}
// sign(x_j − x_i), positive when later values are larger. Rank-based, so it assumes nothing about
// the noise but that the values are exchangeable when there is no trend. Without ties the
// p-value comes from the exact distribution of S (Kendall's: the number of inversions of a random
// permutation) up to 60 values; with ties, or more values, from the normal approximation with
// the tie correction of the variance and a continuity correction.
struct MannKendall {
  double s = 0;
  double variance = 0;  // of S under "no trend", ties corrected
  double tau = 0;       // Kendall's tau-a: S / (n(n−1)/2)
  // One-sided p-value in the direction of S: P(S' ≥ S) when S ≥ 0, P(S' ≤ S) when S < 0.
  double p_value = 1;
  bool exact = false;
};
MannKendall mann_kendall(std::span<const double> series);

// Sen's slope: the median of (x_j − x_i) / (j − i) over i < j, robust to a few outlying runs, with
// its two-sided confidence interval at `confidence` from the Mann–Kendall variance (Gilbert 1987,
// 6.5: the ranks (N' ∓ z·√Var S) / 2 of the sorted pairwise slopes). `intercept` is the median of
// x_i − slope·i, so the fitted line is intercept + slope·i.
struct SenSlope {
  double slope = 0;
  double low = 0;
  double high = 0;
  double intercept = 0;
};
SenSlope sen_slope(std::span<const double> series, double confidence);

}  // namespace ember::analysis
