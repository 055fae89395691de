#include "analysis/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ember::analysis {

namespace {

// Continued fraction for I_x(a, b) by the modified Lentz method (Numerical Recipes, betacf);
// converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr int kMaxIterations = 500;
  constexpr double kEpsilon = 1e-15;
  constexpr double kTiny = 1e-300;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < kEpsilon) break;
  }
  return h;
}

struct Moments {
  double mean = 0;
  double variance = 0;  // unbiased sample variance; 0 for one value
};

Moments moments(std::span<const double> values) {
  Moments m;
  if (values.empty()) return m;
  m.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (values.size() < 2) return m;
  double ss = 0;
  for (double v : values) ss += (v - m.mean) * (v - m.mean);
  m.variance = ss / static_cast<double>(values.size() - 1);
  return m;
}

// Fills statistic and p-value from a difference and its standard error.
void finish(TestResult& r, double difference, double standard_error) {
  if (!(standard_error > 0)) {
    // No variance at all (a share of exactly 0 or 1 on both sides): equal means are no change,
    // unequal ones cannot occur with a floored variance but are certain if they do.
    r.statistic =
        difference == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), difference);
    r.p_value = difference == 0 ? 1 : 0;
    return;
  }
  r.statistic = difference / standard_error;
  r.p_value = student_t_sf(std::fabs(r.statistic), r.df);
}

}  // namespace

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_sf(double t, double df) {
  if (!(df > 0) || std::isnan(t)) return std::numeric_limits<double>::quiet_NaN();
  // Beyond 1e7 degrees of freedom t and normal agree to far better than any p-value is read.
  if (std::isinf(df) || df > 1e7) return normal_sf(t);
  if (std::isinf(t)) return t > 0 ? 0 : 1;
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
  double two_sided = regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t));
  return t > 0 ? two_sided / 2 : 1 - two_sided / 2;
}

TestResult welch_test(std::span<const double> baseline, double baseline_floor,
                      std::span<const double> current, double current_floor) {
  Moments b = moments(baseline), c = moments(current);
  double nb = static_cast<double>(baseline.size()), nc = static_cast<double>(current.size());
  double vb = std::max(b.variance, baseline_floor) / nb;
  double vc = std::max(c.variance, current_floor) / nc;
  TestResult r;
  // Welch–Satterthwaite; a single-run side's variance is its known floor (infinite df).
  double denominator = 0;
  if (baseline.size() >= 2) denominator += vb * vb / (nb - 1);
  if (current.size() >= 2) denominator += vc * vc / (nc - 1);
  r.df = denominator > 0 ? (vb + vc) * (vb + vc) / denominator : kInfiniteDf;
  r.method = std::isinf(r.df) ? TestMethod::kZ : TestMethod::kWelchT;
  finish(r, c.mean - b.mean, std::sqrt(vb + vc));
  return r;
}

TestResult two_proportion_z_test(double x1, double n1, double x2, double n2) {
  TestResult r;
  r.method = TestMethod::kZ;
  r.df = kInfiniteDf;
  if (!(n1 > 0) || !(n2 > 0)) return r;
  double pooled = (x1 + x2) / (n1 + n2);
  double se = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  finish(r, x2 / n2 - x1 / n1, se);
  return r;
}

std::vector<double> benjamini_hochberg_adjust(std::span<const double> p_values) {
  size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m);
  double running = 1;  // q_(k) = min over j >= k of m·p_(j)/j: walk from the largest p down
  for (size_t k = m; k-- > 0;) {
    double p = static_cast<double>(m) * p_values[order[k]] / static_cast<double>(k + 1);
    running = std::min(running, p);
    adjusted[order[k]] = running;
  }
  return adjusted;
}

}  // namespace ember::analysis
