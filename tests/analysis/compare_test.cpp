#include "analysis/compare.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/statistics.h"
#include "profile/folded.h"

namespace ember::analysis {
namespace {

// A samples/count profile from folded text: one sample per line, N = the total.
profile::Profile folded(std::string_view text) {
  auto parsed = profile::parse_folded(text, "test");
  EXPECT_TRUE(parsed) << parsed.error().message();
  return profile::to_profile(*parsed);
}

profile::Profile two_functions(int64_t f, int64_t g) {
  return folded(fmt::format("main;f {}\nmain;g {}\n", f, g));
}

Result<Comparison> run_compare(const std::vector<profile::Profile>& base,
                               const std::vector<profile::Profile>& cur,
                               const CompareOptions& options = {}) {
  std::vector<ProfileRun> b, c;
  for (size_t i = 0; i < base.size(); ++i) {
    b.push_back({base.size() == 1 ? "base" : fmt::format("base{}", i + 1), &base[i]});
  }
  for (size_t i = 0; i < cur.size(); ++i) {
    c.push_back({cur.size() == 1 ? "cur" : fmt::format("cur{}", i + 1), &cur[i]});
  }
  return compare(b, c, options);
}

const FunctionChange* row(const Comparison& c, std::string_view name, ChangeKind kind) {
  for (const auto& f : c.functions) {
    if (f.name == name && f.kind == kind) return &f;
  }
  return nullptr;
}

std::vector<std::string> with_verdict(const Comparison& c, Verdict verdict) {
  std::vector<std::string> out;
  for (const auto& f : c.functions) {
    if (f.verdict == verdict) out.push_back(fmt::format("{}/{}", f.name, to_string(f.kind)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool has_line(const std::string& text, std::string_view line) {
  auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

TEST(Compare, SingleRunUsesThePooledZTest) {
  auto c = run_compare({two_functions(1000, 9000)}, {two_functions(1300, 8700)});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->method(), TestMethod::kZ);
  const FunctionChange* f = row(*c, "f", ChangeKind::kSelf);
  ASSERT_NE(f, nullptr);
  EXPECT_DOUBLE_EQ(f->baseline_share, 0.10);
  EXPECT_DOUBLE_EQ(f->current_share, 0.13);
  EXPECT_NEAR(f->change, 0.30, 1e-12);
  EXPECT_EQ(f->share_test.method, TestMethod::kZ);
  // Pooled share (1000 + 1300) / 20000 = 0.115.
  EXPECT_NEAR(f->share_test.statistic, 0.03 / std::sqrt(0.115 * 0.885 * (2.0 / 10000)), 1e-9);
  EXPECT_DOUBLE_EQ(f->share_test.p_value, normal_sf(f->share_test.statistic));
  EXPECT_EQ(f->verdict, Verdict::kRegression);
  EXPECT_EQ(row(*c, "g", ChangeKind::kSelf)->verdict, Verdict::kUnchanged);  // -3.3%
  // f and g call nothing: their total rows would repeat the self rows and are left out.
  EXPECT_EQ(row(*c, "f", ChangeKind::kTotal), nullptr);
  EXPECT_EQ(row(*c, "g", ChangeKind::kTotal), nullptr);
  // main: total 100% on both sides (no variance, no change); self 0% is below min_share.
  EXPECT_EQ(row(*c, "main", ChangeKind::kTotal)->share_test.p_value, 1);
  EXPECT_EQ(row(*c, "main", ChangeKind::kSelf), nullptr);
  EXPECT_EQ(c->ignored, 1u);
  EXPECT_EQ(c->tests, 3u);  // f self, g self, main total (the whole profile is tested apart)
  EXPECT_EQ(c->whole.verdict, Verdict::kUnchanged);
  EXPECT_TRUE(c->regressed());
  EXPECT_EQ(c->regression_count(), 1u);
}

TEST(Compare, ThresholdItselfCounts) {
  auto at = run_compare({two_functions(2000, 8000)}, {two_functions(2200, 7800)});
  ASSERT_TRUE(at);
  EXPECT_EQ(row(*at, "f", ChangeKind::kSelf)->verdict, Verdict::kRegression);  // +10.0%
  auto below = run_compare({two_functions(2000, 8000)}, {two_functions(2199, 7801)});
  ASSERT_TRUE(below);
  const FunctionChange* f = row(*below, "f", ChangeKind::kSelf);
  EXPECT_NEAR(f->change, 0.0995, 1e-12);
  EXPECT_LT(f->p_adjusted, 0.01);  // significant, but smaller than the threshold
  EXPECT_EQ(f->verdict, Verdict::kUnchanged);
  EXPECT_FALSE(f->explained_by_rest);
  EXPECT_FALSE(below->regressed());
  // A lower threshold flags it.
  auto lower =
      run_compare({two_functions(2000, 8000)}, {two_functions(2199, 7801)}, {.threshold = 0.05});
  ASSERT_TRUE(lower);
  EXPECT_EQ(with_verdict(*lower, Verdict::kRegression), (std::vector<std::string>{"f/self"}));
}

TEST(Compare, SmallSamplesAreNotSignificant) {
  // +50% on 20 vs 30 samples of 200 is within sampling noise.
  auto c = run_compare({two_functions(20, 180)}, {two_functions(30, 170)});
  ASSERT_TRUE(c);
  const FunctionChange* f = row(*c, "f", ChangeKind::kSelf);
  EXPECT_NEAR(f->change, 0.5, 1e-12);
  EXPECT_GT(f->p_adjusted, 0.01);
  EXPECT_EQ(f->verdict, Verdict::kUnchanged);
  EXPECT_FALSE(c->regressed());
}

TEST(Compare, FasterHotLoopIsAnImprovementAndNotEverybodyElsesRegression) {
  profile::Profile base = folded("main;hot 40000\nmain;cold 60000\n");
  profile::Profile cur = folded("main;hot 20000\nmain;cold 60000\n");
  auto c = run_compare({base}, {cur});
  ASSERT_TRUE(c);
  EXPECT_EQ(with_verdict(*c, Verdict::kImprovement), (std::vector<std::string>{"hot/self"}));
  EXPECT_TRUE(with_verdict(*c, Verdict::kRegression).empty());
  // cold's share rose from 60% to 75%, significantly, but its own cost did not move.
  const FunctionChange* cold = row(*c, "cold", ChangeKind::kSelf);
  EXPECT_NEAR(cold->change, 0.25, 1e-12);
  EXPECT_NEAR(cold->value_change, 0.0, 1e-12);
  EXPECT_TRUE(cold->explained_by_rest);
  EXPECT_EQ(cold->verdict, Verdict::kUnchanged);
  EXPECT_EQ(c->whole.verdict, Verdict::kImprovement);
  EXPECT_NEAR(c->whole.change, -0.2, 1e-12);
  EXPECT_FALSE(c->regressed());

  // Without the same-work assumption only shares count, and the whole profile is not tested.
  auto shares_only = run_compare({base}, {cur}, {.fixed_workload = false});
  ASSERT_TRUE(shares_only);
  EXPECT_EQ(with_verdict(*shares_only, Verdict::kRegression),
            (std::vector<std::string>{"cold/self"}));
  EXPECT_EQ(shares_only->whole.test.method, TestMethod::kNone);
  EXPECT_EQ(shares_only->whole.verdict, Verdict::kUnchanged);
  EXPECT_EQ(shares_only->tests, 3u);
}

TEST(Compare, NewAndGoneFunctionsAreListedNotFailed) {
  profile::Profile base = folded("main;a 5000\nmain;old 1000\n");
  profile::Profile cur = folded("main;a 5000\nmain;fresh 1000\n");
  auto c = run_compare({base}, {cur});
  ASSERT_TRUE(c);
  EXPECT_EQ(with_verdict(*c, Verdict::kNew), (std::vector<std::string>{"fresh/self"}));
  EXPECT_EQ(with_verdict(*c, Verdict::kGone), (std::vector<std::string>{"old/self"}));
  const FunctionChange* fresh = row(*c, "fresh", ChangeKind::kSelf);
  EXPECT_TRUE(std::isinf(fresh->change));
  EXPECT_EQ(fresh->share_test.method, TestMethod::kNone);
  EXPECT_DOUBLE_EQ(row(*c, "old", ChangeKind::kSelf)->change, -1.0);
  EXPECT_FALSE(c->regressed());
  // Order: new before gone before unchanged.
  ASSERT_GE(c->functions.size(), 3u);
  EXPECT_EQ(c->functions[0].name, "fresh");
  EXPECT_EQ(c->functions[1].name, "old");
}

TEST(Compare, MinShareIgnoresFunctionsSmallOnBothSides) {
  // tiny: 0.30% → 0.45% (+50%, significant with 100000 samples) stays under 0.5% on both sides;
  // grow: 0.30% → 0.60% reaches 0.5% in the current run and is tested.
  profile::Profile base = folded("main;tiny 300\nmain;grow 300\nmain;rest 99400\n");
  profile::Profile cur = folded("main;tiny 450\nmain;grow 600\nmain;rest 98950\n");
  auto c = run_compare({base}, {cur});
  ASSERT_TRUE(c);
  EXPECT_EQ(row(*c, "tiny", ChangeKind::kSelf), nullptr);
  EXPECT_EQ(c->ignored, 2u);  // tiny self, main self
  EXPECT_EQ(with_verdict(*c, Verdict::kRegression), (std::vector<std::string>{"grow/self"}));
  auto lower = run_compare({base}, {cur}, {.min_share = 0.002});
  ASSERT_TRUE(lower);
  EXPECT_EQ(with_verdict(*lower, Verdict::kRegression),
            (std::vector<std::string>{"grow/self", "tiny/self"}));
}

TEST(Compare, RepeatedRunsUseWelchOnPerRunShares) {
  std::vector<profile::Profile> base = {two_functions(1000, 9000), two_functions(1100, 8900),
                                        two_functions(900, 9100)};
  std::vector<profile::Profile> cur = {two_functions(2000, 8000), two_functions(2100, 7900),
                                       two_functions(1900, 8100)};
  auto c = run_compare(base, cur);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->method(), TestMethod::kWelchT);
  const FunctionChange* f = row(*c, "f", ChangeKind::kSelf);
  EXPECT_EQ(f->share_test.method, TestMethod::kWelchT);
  // Run-to-run variance 1e-4 on both sides exceeds the binomial floor (≤ 1.6e-5).
  EXPECT_NEAR(f->share_test.statistic, 0.1 / std::sqrt(2e-4 / 3), 1e-9);
  EXPECT_NEAR(f->share_test.df, 4.0, 1e-9);
  EXPECT_DOUBLE_EQ(f->share_test.p_value, student_t_sf(f->share_test.statistic, f->share_test.df));
  EXPECT_EQ(f->verdict, Verdict::kRegression);
  EXPECT_EQ(c->baseline_sources, (std::vector<std::string>{"base1", "base2", "base3"}));

  // The same +100% with spread runs that overlap is not beyond noise.
  std::vector<profile::Profile> noisy_base = {two_functions(500, 9500), two_functions(1500, 8500),
                                              two_functions(1000, 9000)};
  std::vector<profile::Profile> noisy_cur = {two_functions(1000, 9000), two_functions(3000, 7000),
                                             two_functions(2000, 8000)};
  auto noisy = run_compare(noisy_base, noisy_cur);
  ASSERT_TRUE(noisy);
  EXPECT_EQ(row(*noisy, "f", ChangeKind::kSelf)->verdict, Verdict::kUnchanged);
  EXPECT_GT(row(*noisy, "f", ChangeKind::kSelf)->p_adjusted, 0.01);
}

TEST(Compare, IdenticalRepeatedRunsAreFlooredBySamplingNoise) {
  std::vector<profile::Profile> base(3, two_functions(1000, 9000));
  std::vector<profile::Profile> same(3, two_functions(1000, 9000));
  auto c = run_compare(base, same);
  ASSERT_TRUE(c);
  EXPECT_EQ(row(*c, "f", ChangeKind::kSelf)->share_test.statistic, 0);
  EXPECT_FALSE(c->regressed());
  // Identical runs of 10% → 11%: zero observed variance, so the binomial floor decides.
  std::vector<profile::Profile> up(3, two_functions(1100, 8900));
  auto u = run_compare(base, up);
  ASSERT_TRUE(u);
  const FunctionChange* f = row(*u, "f", ChangeKind::kSelf);
  double vb = 0.10 * 0.90 / 10000 / 3, vc = 0.11 * 0.89 / 10000 / 3;
  EXPECT_NEAR(f->share_test.statistic, 0.01 / std::sqrt(vb + vc), 1e-9);
  EXPECT_TRUE(std::isfinite(f->share_test.statistic));
}

TEST(Compare, OneBaselineRunAgainstSeveralCurrentRuns) {
  std::vector<profile::Profile> cur = {two_functions(2000, 8000), two_functions(2100, 7900),
                                       two_functions(1900, 8100)};
  auto c = run_compare({two_functions(1000, 9000)}, cur);
  ASSERT_TRUE(c);
  const FunctionChange* f = row(*c, "f", ChangeKind::kSelf);
  double vb = 0.10 * 0.90 / 10000, vc = 1e-4 / 3;
  EXPECT_EQ(f->share_test.method, TestMethod::kWelchT);
  EXPECT_NEAR(f->share_test.df, (vb + vc) * (vb + vc) / (vc * vc / 2), 1e-9);
  EXPECT_EQ(f->verdict, Verdict::kRegression);
}

TEST(Compare, ConfidenceChangesTheBar) {
  // p ≈ 0.0027 one-sided before correction: significant at 95%, not at 99.9%.
  auto c95 =
      run_compare({two_functions(1000, 9000)}, {two_functions(1120, 8880)}, {.confidence = 0.95});
  auto c999 =
      run_compare({two_functions(1000, 9000)}, {two_functions(1120, 8880)}, {.confidence = 0.999});
  ASSERT_TRUE(c95);
  ASSERT_TRUE(c999);
  EXPECT_EQ(row(*c95, "f", ChangeKind::kSelf)->verdict, Verdict::kRegression);
  EXPECT_EQ(row(*c999, "f", ChangeKind::kSelf)->verdict, Verdict::kUnchanged);
}

TEST(Compare, CallersTotalsRegressWithTheirCallee) {
  profile::Profile base = folded("main;run;work;hash 2000\nmain;run;work 1000\nmain;io 7000\n");
  profile::Profile cur = folded("main;run;work;hash 4000\nmain;run;work 1000\nmain;io 7000\n");
  auto c = run_compare({base}, {cur});
  ASSERT_TRUE(c);
  EXPECT_EQ(with_verdict(*c, Verdict::kRegression),
            (std::vector<std::string>{"hash/self", "run/total", "work/total"}));
  EXPECT_TRUE(with_verdict(*c, Verdict::kImprovement).empty());
  EXPECT_EQ(c->whole.verdict, Verdict::kRegression);
  EXPECT_EQ(c->regression_count(), 4u);
}

// A profile with only cpu/nanoseconds: N cannot be read from a samples/count type.
profile::Profile cpu_only(std::string_view text, int64_t period) {
  profile::Profile p = folded(text);
  p.sample_types[0] = {p.strings.intern("cpu"), p.strings.intern("nanoseconds")};
  for (auto& s : p.samples) s.values[0] *= 10'000'000;
  if (period != 0) {
    p.period_type = p.sample_types[0];
    p.period = period;
  }
  return p;
}

TEST(Compare, SampleCountComesFromSamplesTypeOrPeriodOrDistinctSamples) {
  std::string text = "main;f 1000\nmain;g 9000\n";
  // The period in the compared unit: N = total / period.
  auto by_period = run_compare({cpu_only(text, 10'000'000)}, {cpu_only(text, 10'000'000)});
  ASSERT_TRUE(by_period);
  EXPECT_EQ(by_period->unit, "nanoseconds");
  EXPECT_EQ(by_period->whole.baseline_samples, (std::vector<double>{10000}));
  // No period: only the 2 distinct samples are certain, a lower bound that makes the test
  // conservative — a +30% change on "2 samples" is not significant.
  auto no_period = run_compare({cpu_only(text, 0)}, {cpu_only("main;f 1300\nmain;g 8700\n", 0)});
  ASSERT_TRUE(no_period);
  EXPECT_EQ(no_period->whole.current_samples, (std::vector<double>{2}));
  EXPECT_EQ(row(*no_period, "f", ChangeKind::kSelf)->verdict, Verdict::kUnchanged);
  // The same change with the period known is a regression (see SingleRunUsesThePooledZTest).
  auto with_period = run_compare({cpu_only(text, 10'000'000)},
                                 {cpu_only("main;f 1300\nmain;g 8700\n", 10'000'000)});
  ASSERT_TRUE(with_period);
  EXPECT_EQ(row(*with_period, "f", ChangeKind::kSelf)->verdict, Verdict::kRegression);
}

TEST(Compare, BadInputIsAnError) {
  profile::Profile samples = two_functions(1, 1);
  profile::Profile cpu = two_functions(1, 1);
  cpu.sample_types[0] = {cpu.strings.intern("cpu"), cpu.strings.intern("nanoseconds")};
  std::vector<ProfileRun> base = {{"base.pb.gz", &samples}};
  std::vector<ProfileRun> cur = {{"cur.pb.gz", &cpu}};
  auto mismatch = compare(base, cur);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(mismatch.error().message(),
            "sample types differ: base.pb.gz has samples/count, cur.pb.gz has cpu/nanoseconds "
            "(choose the sample type to compare)");
  auto missing = compare(base, cur, {.sample_type = "cpu"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "base.pb.gz: no sample type 'cpu' (the profile has: samples)");
  profile::Profile micro = two_functions(1, 1);
  micro.sample_types[0] = {micro.strings.intern("samples"), micro.strings.intern("microseconds")};
  std::vector<ProfileRun> micro_run = {{"micro.pb.gz", &micro}};
  auto unit = compare(base, micro_run, {.sample_type = "samples"});
  ASSERT_FALSE(unit);
  EXPECT_EQ(unit.error().message(),
            "sample types differ: base.pb.gz has samples/count, micro.pb.gz has samples/microseconds");
  auto no_current = compare(base, {});
  ASSERT_FALSE(no_current);
  EXPECT_EQ(no_current.error().message(), "no current profile");
  profile::Profile empty = folded("");
  std::vector<ProfileRun> empty_run = {{"empty.pb.gz", &empty}};
  auto zero = compare(base, empty_run);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message(), "empty.pb.gz: no samples of type samples");
  auto bad_confidence = compare(base, base, {.confidence = 1.0});
  ASSERT_FALSE(bad_confidence);
  EXPECT_EQ(bad_confidence.error().message(), "confidence must be above 0% and below 100%, not 1");
  EXPECT_FALSE(validate({.threshold = -0.1}));
  EXPECT_FALSE(validate({.min_share = 1.0}));
  EXPECT_TRUE(validate({}));
}

TEST(CompareFormat, MarkdownHeadlineTableAndMethod) {
  auto c = run_compare({two_functions(2000, 8000)}, {two_functions(2200, 7800)});
  ASSERT_TRUE(c);
  std::string md = format_comparison_markdown(*c);
  auto lines = lines_of(md);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "### ❌ 1 regression");
  EXPECT_TRUE(has_line(md, "Sample type `samples` (count), 1 baseline run vs 1 current run."))
      << md;
  EXPECT_TRUE(has_line(md, "**Whole profile:** 10000 → 10000 (+0.0%), unchanged (p = 0.5)")) << md;
  EXPECT_TRUE(has_line(md, "#### Regressions (1)")) << md;
  EXPECT_TRUE(has_line(md, "| function | kind | baseline | current | change | p (adj.) |")) << md;
  EXPECT_TRUE(has_line(md, "| `f` | self | 20.00% | 22.00% | +10.0% | 0.003 |")) << md;
  EXPECT_EQ(md.find("#### Improvements"), std::string::npos);
  EXPECT_TRUE(has_line(md, "<details><summary>How this was decided</summary>")) << md;
  EXPECT_NE(md.find("two-proportion z-test"), std::string::npos);
  EXPECT_NE(md.find("adjusted by Benjamini–Hochberg over the 3 functions tested"),
            std::string::npos);
  EXPECT_TRUE(has_line(md,
                       "Settings: threshold 10%, min share 0.5%, confidence 99%. "
                       "Baseline: `base`. Current: `cur`."))
      << md;
}

TEST(CompareFormat, MarkdownWithoutRegressionAndWithImprovements) {
  auto c = run_compare({folded("main;hot 40000\nmain;cold 60000\n")},
                       {folded("main;hot 20000\nmain;cold 60000\n")});
  ASSERT_TRUE(c);
  std::string md = format_comparison_markdown(*c);
  EXPECT_EQ(lines_of(md)[0], "### ✅ no regression");
  EXPECT_TRUE(has_line(md, "#### Improvements (1)")) << md;
  EXPECT_TRUE(has_line(md, "| `hot` | self | 40.00% | 25.00% | -37.5% | <0.0001 |")) << md;
  EXPECT_TRUE(has_line(md, "**Whole profile:** 100000 → 80000 (-20.0%), improvement (p < 0.0001)"))
      << md;
  EXPECT_NE(md.find("(1 row was explained this way)"), std::string::npos) << md;
}

TEST(CompareFormat, MarkdownEscapesNamesAndCapsRows) {
  profile::Profile base = folded("main;operator| 1000\nmain;a 1000\nmain;b 1000\nmain;c 7000\n");
  profile::Profile cur = folded("main;operator| 4000\nmain;a 3000\nmain;b 3000\nmain;c 7000\n");
  auto c = run_compare({base}, {cur}, {.fixed_workload = false});
  ASSERT_TRUE(c);
  ASSERT_EQ(c->count(Verdict::kRegression), 3u);
  std::string md = format_comparison_markdown(*c, 2);
  EXPECT_NE(md.find("| `operator\\|` | self |"), std::string::npos) << md;
  EXPECT_TRUE(has_line(md, "…and 1 more (see the JSON report).")) << md;
}

TEST(CompareFormat, TerminalTable) {
  auto c = run_compare({two_functions(2000, 8000)}, {two_functions(2200, 7800)});
  ASSERT_TRUE(c);
  EXPECT_EQ(format_comparison_text(*c),
            "REGRESSION: 1 regression (samples), 1 baseline run vs 1 current run\n"
            "whole profile: 10000 -> 10000 (+0.0%), unchanged (p = 0.5)\n"
            "\n"
            "  verdict     kind  baseline  current  change      p  function\n"
            "  regression  self    20.00%   22.00%  +10.0%  0.003  f\n"
            "\n"
            "threshold 10%, min share 0.5%, confidence 99%; 3 tests (Benjamini-Hochberg), 1 row "
            "below min share\n");
}

TEST(CompareFormat, JsonFieldsAreStable) {
  profile::Profile base = folded("main;a 5000\nmain;old 1000\nmain;f 2000\n");
  profile::Profile cur = folded("main;a 5000\nmain;fresh 1000\nmain;f 4000\n");
  auto c = run_compare({base}, {cur});
  ASSERT_TRUE(c);
  nlohmann::json j = nlohmann::json::parse(format_comparison_json(*c));
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["regressed"], true);
  EXPECT_EQ(j["sample_type"], "samples");
  EXPECT_EQ(j["unit"], "count");
  EXPECT_EQ(j["method"], "z");
  EXPECT_DOUBLE_EQ(j["settings"]["threshold"].get<double>(), 0.10);
  EXPECT_DOUBLE_EQ(j["settings"]["min_share"].get<double>(), 0.005);
  EXPECT_DOUBLE_EQ(j["settings"]["confidence"].get<double>(), 0.99);
  EXPECT_NEAR(j["settings"]["alpha"].get<double>(), 0.01, 1e-12);
  EXPECT_EQ(j["settings"]["fixed_workload"], true);
  EXPECT_EQ(j["runs"]["baseline"], nlohmann::json({"base"}));
  EXPECT_EQ(j["runs"]["current"], nlohmann::json({"cur"}));
  EXPECT_EQ(j["counts"]["new"], 1);
  EXPECT_EQ(j["counts"]["gone"], 1);
  EXPECT_EQ(j["regressions"], j["counts"]["regression"].get<int>() +
                                  (j["whole_profile"]["verdict"] == "regression" ? 1 : 0));
  EXPECT_EQ(j["whole_profile"]["baseline_totals"], nlohmann::json({8000}));
  EXPECT_EQ(j["whole_profile"]["current_totals"], nlohmann::json({10000}));
  EXPECT_EQ(j["whole_profile"]["verdict"], "regression");
  EXPECT_EQ(j["whole_profile"]["test"]["method"], "z");
  const nlohmann::json& first = j["functions"][0];
  EXPECT_EQ(first["name"], "f");
  EXPECT_EQ(first["kind"], "self");
  EXPECT_EQ(first["verdict"], "regression");
  EXPECT_DOUBLE_EQ(first["baseline_share"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(first["current_share"].get<double>(), 0.40);
  EXPECT_DOUBLE_EQ(first["baseline_value"].get<double>(), 2000);
  EXPECT_DOUBLE_EQ(first["current_value"].get<double>(), 4000);
  EXPECT_NEAR(first["change"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(first["value_change"].get<double>(), 1.0, 1e-12);
  EXPECT_EQ(first["explained_by_rest"], false);
  EXPECT_EQ(first["share_test"]["method"], "z");
  EXPECT_TRUE(first["share_test"]["df"].is_null());
  EXPECT_EQ(first["value_test"]["method"], "z");
  // Value test: 2000 → 4000 samples, Poisson: z = 2000 / sqrt(6000).
  EXPECT_NEAR(first["value_test"]["statistic"].get<double>(), 2000 / std::sqrt(6000.0), 1e-9);
  EXPECT_DOUBLE_EQ(first["p_value"].get<double>(),
                   std::max(first["share_test"]["p_value"].get<double>(),
                            first["value_test"]["p_value"].get<double>()));
  EXPECT_TRUE(first["p_adjusted"].is_number());
  for (const auto& f : j["functions"]) {
    if (f["name"] == "fresh") {
      EXPECT_EQ(f["verdict"], "new");
      EXPECT_TRUE(f["change"].is_null());
      EXPECT_EQ(f["share_test"]["method"], "none");
      EXPECT_TRUE(f["share_test"]["p_value"].is_null());
      EXPECT_TRUE(f["p_adjusted"].is_null());
    }
  }
}

}  // namespace
}  // namespace ember::analysis
