#include "analysis/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace ember::analysis {
namespace {

TEST(Statistics, NormalTail) {
  EXPECT_DOUBLE_EQ(normal_sf(0), 0.5);
  EXPECT_NEAR(normal_sf(1.959963985), 0.025, 1e-9);
  EXPECT_NEAR(normal_sf(2.326347874), 0.01, 1e-9);
  EXPECT_NEAR(normal_sf(-1.0), 0.841344746, 1e-9);
}

TEST(Statistics, IncompleteBetaClosedForms) {
  for (double x : {0.0, 0.1, 0.5, 0.93, 1.0}) {
    EXPECT_NEAR(regularized_incomplete_beta(1, 1, x), x, 1e-12);
    EXPECT_NEAR(regularized_incomplete_beta(3, 1, x), std::pow(x, 3), 1e-12);
    EXPECT_NEAR(regularized_incomplete_beta(1, 2.5, x), 1 - std::pow(1 - x, 2.5), 1e-12);
  }
}

TEST(Statistics, StudentTMatchesClosedFormsAndTables) {
  // df = 1 is Cauchy, df = 2 has a closed form too.
  for (double t : {0.3, 1.0, 4.0, 30.0}) {
    EXPECT_NEAR(student_t_sf(t, 1), 0.5 - std::atan(t) / std::numbers::pi, 1e-12);
    EXPECT_NEAR(student_t_sf(t, 2), 0.5 - t / (2 * std::sqrt(2 + t * t)), 1e-12);
  }
  // Critical values from printed t tables.
  EXPECT_NEAR(student_t_sf(3.746947, 4), 0.01, 1e-6);
  EXPECT_NEAR(student_t_sf(2.570582, 5), 0.025, 1e-6);
  EXPECT_NEAR(student_t_sf(3.169273, 10), 0.005, 1e-6);
  EXPECT_NEAR(student_t_sf(1.812461, 10), 0.05, 1e-6);
  EXPECT_NEAR(student_t_sf(-1.812461, 10), 0.95, 1e-6);
  EXPECT_DOUBLE_EQ(student_t_sf(0, 7), 0.5);
  // Fractional df (Welch) lies between its neighbours; huge df is the normal.
  double p45 = student_t_sf(3.0, 4.5);
  EXPECT_LT(p45, student_t_sf(3.0, 4));
  EXPECT_GT(p45, student_t_sf(3.0, 5));
  EXPECT_NEAR(student_t_sf(2.0, 1e6), normal_sf(2.0), 1e-6);
  EXPECT_EQ(student_t_sf(2.0, kInfiniteDf), normal_sf(2.0));
  EXPECT_TRUE(std::isnan(student_t_sf(1.0, 0)));
}

TEST(Statistics, WelchTestOnSpreadRuns) {
  double base[] = {0.10, 0.11, 0.09};
  double cur[] = {0.20, 0.21, 0.19};
  TestResult r = welch_test(base, 1e-6, cur, 1e-6);
  EXPECT_EQ(r.method, TestMethod::kWelchT);
  // Both sides: variance 1e-4, mean difference 0.1 → t = 0.1 / sqrt(2e-4 / 3), df = 4.
  EXPECT_NEAR(r.statistic, 0.1 / std::sqrt(2e-4 / 3), 1e-9);
  EXPECT_NEAR(r.df, 4.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.p_value, student_t_sf(r.statistic, r.df));
  EXPECT_LT(r.p_value, 2e-4);
  // A decrease gives a negative statistic and the p-value of the lower tail.
  TestResult down = welch_test(cur, 1e-6, base, 1e-6);
  EXPECT_NEAR(down.statistic, -r.statistic, 1e-9);
  EXPECT_DOUBLE_EQ(down.p_value, r.p_value);
}

TEST(Statistics, WelchFloorsIdenticalRunsBySamplingVariance) {
  double base[] = {0.10, 0.10, 0.10};
  double cur[] = {0.11, 0.11, 0.11};
  double fb = 0.10 * 0.90 / 10000, fc = 0.11 * 0.89 / 10000;
  TestResult r = welch_test(base, fb, cur, fc);
  double vb = fb / 3, vc = fc / 3;
  EXPECT_NEAR(r.statistic, 0.01 / std::sqrt(vb + vc), 1e-9);
  EXPECT_NEAR(r.statistic, 3.9957, 1e-4);
  EXPECT_NEAR(r.df, (vb + vc) * (vb + vc) / (vb * vb / 2 + vc * vc / 2), 1e-9);
  // Same runs on both sides: no difference at all.
  TestResult same = welch_test(base, fb, base, fb);
  EXPECT_EQ(same.statistic, 0);
  EXPECT_DOUBLE_EQ(same.p_value, 0.5);
}

TEST(Statistics, WelchWithOneRunOnOneSideTakesItsVarianceAsKnown) {
  double base[] = {0.10};
  double cur[] = {0.20, 0.21, 0.19};
  double fb = 0.10 * 0.90 / 10000;
  TestResult r = welch_test(base, fb, cur, 1e-6);
  double vb = fb, vc = 1e-4 / 3;
  EXPECT_EQ(r.method, TestMethod::kWelchT);
  EXPECT_NEAR(r.df, (vb + vc) * (vb + vc) / (vc * vc / 2), 1e-9);
  EXPECT_NEAR(r.df, 3.2258, 1e-4);
  // One run per side leaves only the floors: a z-test.
  double one_cur[] = {0.20};
  TestResult z = welch_test(base, fb, one_cur, 0.16 / 10000);
  EXPECT_EQ(z.method, TestMethod::kZ);
  EXPECT_TRUE(std::isinf(z.df));
  EXPECT_NEAR(z.statistic, 0.1 / std::sqrt(fb + 0.16 / 10000), 1e-9);
}

TEST(Statistics, TwoProportionZTestPooled) {
  TestResult r = two_proportion_z_test(1000, 10000, 1300, 10000);
  EXPECT_EQ(r.method, TestMethod::kZ);
  // pooled p = 0.115; se = sqrt(0.115 · 0.885 · 2/10000)
  EXPECT_NEAR(r.statistic, 0.03 / std::sqrt(0.115 * 0.885 * 2e-4), 1e-9);
  EXPECT_NEAR(r.statistic, 6.6495, 1e-4);
  EXPECT_DOUBLE_EQ(r.p_value, normal_sf(r.statistic));
  TestResult none = two_proportion_z_test(0, 100, 0, 100);
  EXPECT_EQ(none.statistic, 0);
  EXPECT_EQ(none.p_value, 1);
}

TEST(Statistics, BenjaminiHochbergAdjustment) {
  double p[] = {0.01, 0.04, 0.03, 0.005};
  auto adjusted = benjamini_hochberg_adjust(p);
  ASSERT_EQ(adjusted.size(), 4u);
  // Sorted: 0.005·4/1 = 0.02, 0.01·4/2 = 0.02, 0.03·4/3 = 0.04, 0.04·4/4 = 0.04.
  EXPECT_DOUBLE_EQ(adjusted[0], 0.02);
  EXPECT_DOUBLE_EQ(adjusted[1], 0.04);
  EXPECT_DOUBLE_EQ(adjusted[2], 0.04);
  EXPECT_DOUBLE_EQ(adjusted[3], 0.02);
  // Step-up: a larger p-value can lift a smaller one (0.5·2/1 = 1 becomes 0.6).
  double two[] = {0.5, 0.6};
  auto lifted = benjamini_hochberg_adjust(two);
  EXPECT_DOUBLE_EQ(lifted[0], 0.6);
  EXPECT_DOUBLE_EQ(lifted[1], 0.6);
  double big[] = {0.9, 0.95, 0.99};
  for (double q : benjamini_hochberg_adjust(big)) EXPECT_DOUBLE_EQ(q, 0.99);
  double one[] = {0.7};
  EXPECT_DOUBLE_EQ(benjamini_hochberg_adjust(one)[0], 0.7);
  EXPECT_TRUE(benjamini_hochberg_adjust({}).empty());
}

}  // namespace
}  // namespace ember::analysis
