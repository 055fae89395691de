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

}  // namespace ember::analysis
