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

namespace {

// Bisection for x with f(x) = target on [lo, hi], f decreasing.
template <typename F>
double solve_decreasing(F f, double target, double lo, double hi) {
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(lo)); ++i) {
    double mid = (lo + hi) / 2;
    (f(mid) > target ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// P(I <= k) for I the number of inversions of a uniformly random permutation of n elements,
// for every k in 0..n(n−1)/2: the permutation is built one element at a time, the m-th adding
// 0..m−1 inversions with equal chance (a sliding-window sum keeps it O(n³) at worst).
std::vector<double> inversions_cdf(size_t n) {
  std::vector<double> p{1.0};
  for (size_t m = 2; m <= n; ++m) {
    std::vector<double> next(p.size() + m - 1, 0.0);
    double window = 0;
    for (size_t k = 0; k < next.size(); ++k) {
      if (k < p.size()) window += p[k];
      if (k >= m && k - m < p.size()) window -= p[k - m];
      next[k] = window / static_cast<double>(m);
    }
    p = std::move(next);
  }
  for (size_t k = 1; k < p.size(); ++k) p[k] += p[k - 1];
  return p;
}

constexpr size_t kMaxExactMannKendall = 60;

}  // namespace

double normal_quantile_upper(double p) {
  if (!(p > 0 && p < 1)) return std::numeric_limits<double>::quiet_NaN();
  return solve_decreasing([](double z) { return normal_sf(z); }, p, -40.0, 40.0);
}

double student_t_quantile_upper(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(df)) return normal_quantile_upper(p);
  // Student's t at 1 df (Cauchy) reaches P = 1e-9 only near 3e8: bracket wide enough for any p
  // a report asks for.
  return solve_decreasing([df](double t) { return student_t_sf(t, df); }, p, -1e9, 1e9);
}

MannKendall mann_kendall(std::span<const double> x) {
  MannKendall r;
  const size_t n = x.size();
  if (n < 2) return r;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) r.s += (x[j] > x[i]) - (x[j] < x[i]);
  }
  double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2;
  r.tau = r.s / pairs;
  std::vector<double> sorted(x.begin(), x.end());
  std::sort(sorted.begin(), sorted.end());
  double ties = 0;  // Σ t(t−1)(2t+5) over groups of equal values
  bool any_ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && sorted[j] == sorted[i]) ++j;
    double t = static_cast<double>(j - i);
    if (j - i > 1) any_ties = true;
    ties += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  double dn = static_cast<double>(n);
  r.variance = (dn * (dn - 1) * (2 * dn + 5) - ties) / 18;
  if (r.s == 0 || !(r.variance > 0)) {
    r.p_value = 1;  // no direction to test
    return r;
  }
  if (!any_ties && n <= kMaxExactMannKendall) {
    r.exact = true;
    std::vector<double> cdf = inversions_cdf(n);
    // S = pairs − 2·I: a large S is few inversions.
    auto inversions = static_cast<size_t>(std::llround((pairs - std::fabs(r.s)) / 2));
    r.p_value = std::min(1.0, cdf[std::min(inversions, cdf.size() - 1)]);
    return r;
  }
  double z = (std::fabs(r.s) - 1) / std::sqrt(r.variance);
  r.p_value = normal_sf(z);
  return r;
}

SenSlope sen_slope(std::span<const double> x, double confidence) {
  SenSlope r;
  const size_t n = x.size();
  if (n < 2) {
    if (n == 1) r.intercept = x[0];
    return r;
  }
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) slopes.push_back((x[j] - x[i]) / static_cast<double>(j - i));
  }
  std::sort(slopes.begin(), slopes.end());
  auto at = [&](double rank) {  // 0-based fractional rank, clamped
    rank = std::clamp(rank, 0.0, static_cast<double>(slopes.size() - 1));
    auto lo = static_cast<size_t>(std::floor(rank));
    size_t hi = std::min(lo + 1, slopes.size() - 1);
    return slopes[lo] + (slopes[hi] - slopes[lo]) * (rank - static_cast<double>(lo));
  };
  double count = static_cast<double>(slopes.size());
  r.slope = at((count - 1) / 2);
  double c = normal_quantile_upper((1 - confidence) / 2) * std::sqrt(mann_kendall(x).variance);
  r.low = at((count - c) / 2 - 1);
  r.high = at((count + c) / 2);
  std::vector<double> intercepts;
  for (size_t i = 0; i < n; ++i) intercepts.push_back(x[i] - r.slope * static_cast<double>(i));
  std::sort(intercepts.begin(), intercepts.end());
  r.intercept = n % 2 ? intercepts[n / 2] : (intercepts[n / 2 - 1] + intercepts[n / 2]) / 2;
  return r;
}

}  // namespace ember::analysis
