// ember trend's statistics: the Mann-Kendall test and Sen's slope on known series, and the two
// promises on synthetic histories drawn from a known call tree: unchanged runs raise no drift,
// a function 5% slower every run, or 50% slower from one run on, is flagged by name.

#include <gtest/gtest.h>

#include <cmath>

#include "analysis/growth.h"
#include "analysis/trend.h"
#include "synthetic.h"

namespace ember::analysis {
namespace {

using namespace synthetic;

TEST(MannKendall, ExactPValuesOfSmallSeries) {
  // Strictly increasing: the only permutation with S = n(n-1)/2 among n!.
  std::vector<double> up4 = {1, 2, 3, 4};
  MannKendall mk = mann_kendall(up4);
  EXPECT_EQ(mk.s, 6);
  EXPECT_TRUE(mk.exact);
  EXPECT_NEAR(mk.p_value, 1.0 / 24, 1e-12);
  EXPECT_NEAR(mk.tau, 1.0, 1e-12);
  // One swap: S = 4, P(S >= 4) = P(at most 1 inversion) = (1 + 3) / 24.
  std::vector<double> one_swap = {2, 1, 3, 4};
  EXPECT_NEAR(mann_kendall(one_swap).p_value, 4.0 / 24, 1e-12);
  // Decreasing is the mirror image.
  std::vector<double> down = {4, 3, 2, 1};
  EXPECT_EQ(mann_kendall(down).s, -6);
  EXPECT_NEAR(mann_kendall(down).p_value, 1.0 / 24, 1e-12);
  // Ties: normal approximation with the tie-corrected variance; nothing to test when all equal.
  std::vector<double> flat = {5, 5, 5, 5, 5};
  EXPECT_EQ(mann_kendall(flat).p_value, 1);
  std::vector<double> tied = {1, 1, 2, 3, 3, 4, 5, 6};
  MannKendall t = mann_kendall(tied);
  EXPECT_FALSE(t.exact);
  EXPECT_NEAR(t.variance, (8.0 * 7 * 21 - 2 * (2 * 1 * 9)) / 18, 1e-9);
}

TEST(MannKendall, NormalApproximationAgreesWithExactForTwentyValues) {
  std::vector<double> x;
  for (int i = 0; i < 20; ++i) x.push_back(i + 3.0 * std::sin(i * 1.7));
  MannKendall exact = mann_kendall(x);
  ASSERT_TRUE(exact.exact);
  double z = (std::fabs(exact.s) - 1) / std::sqrt(exact.variance);
  EXPECT_NEAR(exact.p_value, normal_sf(z), 0.002);
}

TEST(SenSlope, MedianOfPairwiseSlopesIgnoresAnOutlier) {
  std::vector<double> x = {10, 12, 14, 100, 18, 20, 22};  // 2 per step, one wild run
  SenSlope s = sen_slope(x, 0.95);
  EXPECT_NEAR(s.slope, 2.0, 1e-12);
  EXPECT_NEAR(s.intercept, 10.0, 1e-12);
  EXPECT_LE(s.low, 2.0);
  EXPECT_GE(s.high, 2.0);
}

TEST(Quantiles, InvertTheTails) {
  EXPECT_NEAR(normal_quantile_upper(0.025), 1.959964, 1e-5);
  EXPECT_NEAR(student_t_quantile_upper(0.025, 2), 4.302653, 1e-5);
  EXPECT_NEAR(student_t_quantile_upper(0.005, 10), 3.169273, 1e-5);
}

std::vector<profile::Profile> history(uint64_t seed, size_t runs, const RunShape& shape,
                                      double hash_growth_per_run, size_t step_at = 0, double step = 1) {
  Rng rng(seed);
  std::vector<profile::Profile> out;
  for (size_t i = 0; i < runs; ++i) {
    double factor = std::pow(hash_growth_per_run, static_cast<double>(i)) * (step_at && i >= step_at ? step : 1);
    out.push_back(record(with_weight(program(), "main;compute;hash", factor), rng, shape));
  }
  return out;
}

Trend trend_of(const std::vector<profile::Profile>& runs, const TrendOptions& options = {}) {
  std::vector<TrendInput> inputs;
  for (size_t i = 0; i < runs.size(); ++i) {
    inputs.push_back({{fmt::format("run{}", i), &runs[i]}, fmt::format("#{}", i)});
  }
  auto t = trend(inputs, options);
  EXPECT_TRUE(t) << t.error().message();
  return t ? std::move(*t) : Trend{};
}

std::vector<std::string> drifting(const Trend& t) {
  std::vector<std::string> out;
  for (const auto& f : t.functions) {
    if (f.evidence.drift != DriftKind::kNone) {
      out.push_back(fmt::format("{}/{}/{}/{}", f.name, to_string(f.kind), to_string(f.evidence.drift),
                                to_string(f.evidence.direction)));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct TrendNoiseCase {
  const char* name;
  size_t runs;
  RunShape shape;
};

class TrendNoFalseAlarms : public ::testing::TestWithParam<TrendNoiseCase> {};

// The noise sweep: unchanged programs, 20 seeds per configuration, no drift anywhere.
TEST_P(TrendNoFalseAlarms, UnchangedRunsTwentySeeds) {
  const TrendNoiseCase& param = GetParam();
  size_t tested = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Trend t = trend_of(history(seed, param.runs, param.shape, 1.0));
    EXPECT_FALSE(t.drifted()) << "seed " << seed << "\n" << format_trend_text(t);
    EXPECT_EQ(t.drift_count(DriftDirection::kFaster), 0u) << "seed " << seed << "\n" << format_trend_text(t);
    tested += t.tests;
  }
  EXPECT_GE(tested, 20u * 15);
}

INSTANTIATE_TEST_SUITE_P(
    Noise, TrendNoFalseAlarms,
    ::testing::Values(TrendNoiseCase{"ten_runs_sampling_only", 10, {.samples_per_unit = 100}},
                      TrendNoiseCase{"ten_runs_jittered", 10, {.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02}},
                      TrendNoiseCase{"twenty_runs_jittered", 20, {.samples_per_unit = 50, .run_jitter = 0.03, .total_jitter = 0.02}},
                      TrendNoiseCase{"five_runs_small", 5, {.samples_per_unit = 20}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Trend, FivePercentSlowerEveryRunIsASteadyDriftOfThatFunction) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Trend t = trend_of(history(seed, 10, {.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02}, 1.05));
    std::vector<std::string> d = drifting(t);
    EXPECT_NE(std::find(d.begin(), d.end(), "hash/self/trend/slower"), d.end()) << format_trend_text(t);
    // Nothing but hash and its callers' totals drifts slower.
    for (const auto& f : t.functions) {
      if (f.evidence.drift == DriftKind::kNone || f.evidence.direction != DriftDirection::kSlower) continue;
      EXPECT_TRUE(f.name == "hash" || (f.kind == ChangeKind::kTotal && (f.name == "compute" || f.name == "main")))
          << f.name << "\n" << format_trend_text(t);
    }
    EXPECT_TRUE(t.drifted());
    EXPECT_EQ(t.functions.front().name, "hash") << format_trend_text(t);
  }
}

TEST(Trend, AStepAtOneRunIsFoundThere) {
  Trend t = trend_of(history(7, 12, {.samples_per_unit = 100, .run_jitter = 0.02, .total_jitter = 0.02}, 1.0, 6, 1.5));
  const TrendRow* hash = nullptr;
  for (const auto& f : t.functions) {
    if (f.name == "hash" && f.kind == ChangeKind::kSelf) hash = &f;
  }
  ASSERT_NE(hash, nullptr);
  EXPECT_EQ(hash->evidence.drift, DriftKind::kStep) << format_trend_text(t);
  EXPECT_EQ(hash->evidence.step_at, 6u);
  EXPECT_EQ(hash->evidence.direction, DriftDirection::kSlower);
  EXPECT_NE(format_trend_markdown(t).find("slower: "), std::string::npos);
}

TEST(Trend, FunctionFilterAndErrors) {
  auto runs = history(3, 6, {.samples_per_unit = 100}, 1.0);
  TrendOptions only;
  only.function = *common::Regex::compile("^(hash|sort)$");
  Trend t = trend_of(runs, only);
  for (const auto& f : t.functions) EXPECT_TRUE(f.name == "hash" || f.name == "sort") << f.name;
  EXPECT_GT(t.ignored, 0u);

  std::vector<TrendInput> two = {{{"a", &runs[0]}, "a"}, {{"b", &runs[1]}, "b"}};
  auto few = trend(two);
  ASSERT_FALSE(few);
  EXPECT_EQ(few.error().message(), "a trend needs at least 3 runs, not 2");

  std::vector<TrendInput> mixed = {{{"a", &runs[0]}, "a"}, {{"b", &runs[1]}, "b"}, {{"c", &runs[2]}, "c"}};
  TrendOptions cpu;
  cpu.sample_type = "wall";
  auto bad = trend(mixed, cpu);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("a:"), std::string::npos) << bad.error().message();
}

TEST(Growth, PowerLawFitRecoversExponentsAndFlagsTheQuadratic) {
  std::vector<double> sizes = {1000, 2000, 4000, 8000, 16000};
  std::vector<double> linear, quadratic, weights_l, weights_q;
  for (double n : sizes) {
    linear.push_back(3e3 * n);
    quadratic.push_back(0.5 * n * n);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    weights_l.push_back(linear[i] / 1e5);
    weights_q.push_back(quadratic[i] / 1e5);
  }
  GrowthFit l = fit_power_law(sizes, linear, weights_l, 0.95);
  GrowthFit q = fit_power_law(sizes, quadratic, weights_q, 0.95);
  EXPECT_NEAR(l.exponent, 1.0, 1e-9);
  EXPECT_NEAR(q.exponent, 2.0, 1e-9);
  EXPECT_NEAR(q.coefficient, 0.5, 1e-6);
  EXPECT_FALSE(q.poor);
  EXPECT_LT(q.low, 2.0);
  EXPECT_GT(q.high, 2.0);
  std::vector<double> two = {1000, 1000};
  EXPECT_FALSE(fit_power_law(two, std::vector<double>{1, 2}, std::vector<double>{1, 1}, 0.95).fitted);
}

}  // namespace
}  // namespace ember::analysis
