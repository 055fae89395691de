// `ember trend` and `ember scale` end to end, on recordings of real fixture programs:
//   - bench::hash made 5% slower every run over 16 runs fails --fail-on-drift naming it, and 16
//     unchanged runs pass;
//   - a program with a linear and a quadratic function of n gives exponents near 1 and 2, the
//     quadratic one flagged first, every recording kept;
//   - bad input: one line naming the file or the size, the exit status the help promises.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

// 16 runs, not 10: with 10 the drift test's power on real recordings was marginal (adjusted p
// 0.007 against 0.01 in a good run, misses when run-to-run CPU time jitters, as it did in a
// clean-clone CI run); analysis/README.md's sweep gives 100% detection at 20 runs with jitter.
constexpr int kTrendRuns = 16;
constexpr const char* kTrendFrequency = "4999";
constexpr const char* kTrendScale = "150";  // ~0.25 s a run

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TrendCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("ember-trend-" + std::to_string(getpid()));
    fs::create_directories(dir_ / "slowing");
    fs::create_directories(dir_ / "steady");
    // Interleaved, so that a change of the machine's load during the test falls on both histories.
    for (int i = 0; i < kTrendRuns; ++i) {
      record(dir_ / "slowing", i, 100 + 5 * i);
      record(dir_ / "steady", i, 100);
    }
  }
  static void TearDownTestSuite() {
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
  }
  static void record(const fs::path& dir, int i, int hash_percent) {
    std::string stem = (dir / ("run-" + std::to_string(i))).string();
    auto r = run({EMBER_BIN, "record", "-q", "-F", kTrendFrequency, "-o", stem + ".pb.gz", "--metadata", stem + ".json",
                  "--", COMPARE_BASELINE_BIN, "--scale", kTrendScale, "--hash-percent", std::to_string(hash_percent)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static fs::path dir_;
};

fs::path TrendCliTest::dir_;

TEST_F(TrendCliTest, FunctionFivePercentSlowerPerRunFailsTheGateByName) {
  fs::path json = dir_ / "slowing.json", md = dir_ / "slowing.md", svg = dir_ / "slowing.svg";
  auto r = run({EMBER_BIN, "trend", (dir_ / "slowing").string(), "--fail-on-drift", "--json", json.string(),
                "--markdown", md.string(), "-o", svg.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("bench::hash"), std::string::npos) << r.out;
  auto report = nlohmann::json::parse(read_text(json));
  EXPECT_TRUE(report["drifted"].get<bool>());
  ASSERT_EQ(report["runs"].size(), static_cast<size_t>(kTrendRuns));
  // Ordered by recording time (from the profiles), oldest first: run-0 ... run-9.
  for (int i = 0; i < kTrendRuns; ++i) {
    EXPECT_EQ(fs::path(report["runs"][i]["source"].get<std::string>()).filename(), "run-" + std::to_string(i) + ".pb.gz");
  }
  bool hash_self = false;
  for (const auto& f : report["functions"]) {
    if (f["drift"] == "none") continue;
    EXPECT_EQ(f["direction"], "slower") << f.dump();
    if (f["name"] == "bench::hash" && f["kind"] == "self") {
      hash_self = true;
      // 5% more hash work a run: hash's CPU time grows ~75% over the sixteen runs.
      EXPECT_GT(f["trend"]["value_change"].get<double>(), 0.45) << f.dump();
      EXPECT_LT(f["trend"]["value_change"].get<double>(), 1.1) << f.dump();
    } else {
      // Only hash and what calls it (totals) may drift.
      std::string name = f["name"];
      EXPECT_TRUE(name == "bench::hash" || f["kind"] == "total") << f.dump();
    }
  }
  EXPECT_TRUE(hash_self) << r.out;
  std::string markdown = read_text(md);
  EXPECT_TRUE(markdown.starts_with("### ❌")) << markdown;
  EXPECT_NE(markdown.find("`bench::hash`"), std::string::npos);
  std::string chart = read_text(svg);
  EXPECT_NE(chart.find("bench::hash (self)"), std::string::npos);
  EXPECT_NE(chart.find("class=\"chart-point\""), std::string::npos);
}

TEST_F(TrendCliTest, UnchangedRunsPass) {
  auto r = run({EMBER_BIN, "trend", (dir_ / "steady").string(), "--fail-on-drift"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(r.out.starts_with("ember trend: no drift")) << r.out;
}

TEST_F(TrendCliTest, FunctionFilterKeepsOnlyMatchingRows) {
  fs::path json = dir_ / "filtered.json";
  auto r = run({EMBER_BIN, "trend", (dir_ / "slowing").string(), "--function", "^bench::(hash|parse)$", "-q", "--json",
                json.string(), "--top", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = nlohmann::json::parse(read_text(json));
  ASSERT_FALSE(report["functions"].empty());
  for (const auto& f : report["functions"]) {
    EXPECT_TRUE(f["name"] == "bench::hash" || f["name"] == "bench::parse") << f["name"];
  }
  auto bad = run({EMBER_BIN, "trend", (dir_ / "slowing").string(), "--function", "(a"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "ember: --function: invalid regex '(a': missing ): (a\n");
}

TEST_F(TrendCliTest, BadInputsNameTheFile) {
  fs::path empty = dir_ / "zero.folded", other = dir_ / "other.folded";
  std::ofstream(empty) << "main;work 0\n";
  std::ofstream(other) << "main;work 5\n";
  std::vector<std::string> runs;
  for (int i = 0; i < 3; ++i) runs.push_back((dir_ / "steady" / ("run-" + std::to_string(i) + ".pb.gz")).string());

  // A run without samples is left out, saying so; the rest is still reported.
  auto args = runs;
  args.insert(args.begin(), {EMBER_BIN, "trend"});
  args.push_back(empty.string());
  auto r = run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ember: " + empty.string() + ": no samples; left out of the trend\n"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("3 runs"), std::string::npos) << r.out;

  // A sample type one run does not have.
  args = runs;
  args.insert(args.begin(), {EMBER_BIN, "trend", "--sample-type", "cpu"});
  args.push_back(other.string());
  r = run(args);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ember: " + other.string() + ": no sample type 'cpu'"), std::string::npos) << r.err;

  r = run({EMBER_BIN, "trend", runs[0], runs[1]});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: a trend needs at least 3 runs, not 2\n");

  r = run({EMBER_BIN, "trend", "--fail-on-drfit", runs[0]});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --fail-on-drfit (did you mean --fail-on-drift?)"), std::string::npos) << r.err;
}

class ScaleCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-scale-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(ScaleCliTest, LinearAndQuadraticExponentsQuadraticFlaggedFirst) {
  fs::path out = dir_ / "runs", svg = dir_ / "scale.svg";
  auto r = run({EMBER_BIN, "scale", "--sizes", "4000,8000,16000,32000", "-F", kTrendFrequency, "--output-dir", out.string(),
                "-o", svg.string(), "--", SCALE_GROWTH_BIN, "--n", "{}"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* size : {"4000", "8000", "16000", "32000"}) {
    EXPECT_TRUE(fs::exists(out / (std::string("size-") + size + ".pb.gz"))) << size;
    EXPECT_TRUE(fs::exists(out / (std::string("size-") + size + ".json"))) << size;
  }
  auto report = nlohmann::json::parse(read_text(out / "scale.json"));
  EXPECT_EQ(report["sample_type"], "cpu");
  double linear = NAN, quadratic = NAN;
  for (const auto& f : report["functions"]) {
    if (f["kind"] != "self") continue;
    if (f["name"] == "growth::linear") linear = f["exponent"];
    if (f["name"] == "growth::quadratic") quadratic = f["exponent"];
  }
  EXPECT_NEAR(linear, 1.0, 0.2) << r.out;
  EXPECT_NEAR(quadratic, 2.0, 0.2) << r.out;
  ASSERT_FALSE(report["functions"].empty());
  EXPECT_EQ(report["functions"][0]["name"], "growth::quadratic") << r.out;
  EXPECT_TRUE(report["functions"][0]["flagged"].get<bool>());
  EXPECT_EQ(report["flagged"], 1) << r.out;
  EXPECT_NE(r.out.find("fastest: growth::quadratic (self"), std::string::npos) << r.out;
  EXPECT_NE(read_text(svg).find("growth::quadratic (self)"), std::string::npos);
}

TEST_F(ScaleCliTest, AFailingSizeIsNamedAndTheOthersAreStillFitted) {
  fs::path out = dir_ / "runs";
  // The command fails at n = 8000 only.
  std::string script = std::string("[ \"$1\" != 8000 ] && exec ") + SCALE_GROWTH_BIN + " --n \"$1\"";
  auto r = run({EMBER_BIN, "scale", "--sizes", "4000,8000,16000", "-F", kTrendFrequency, "--output-dir", out.string(), "--",
                "/bin/sh", "-c", script, "sh", "{}"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("ember: size 8000: command exited with status 1; its recording (" +
                       (out / "size-8000.pb.gz").string() + ") is kept but left out of the fit\n"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::exists(out / "size-8000.pb.gz"));
  auto report = nlohmann::json::parse(read_text(out / "scale.json"));
  EXPECT_EQ(report["runs"].size(), 2u);
  EXPECT_TRUE(report["too_few_sizes"].get<bool>());
  EXPECT_NE(r.out.find("note: only 2 distinct sizes"), std::string::npos) << r.out;
}

TEST_F(ScaleCliTest, BadSizesAndCommands) {
  auto r = run({EMBER_BIN, "scale", "--sizes", "1000,abc", "--", SCALE_GROWTH_BIN, "--n", "{}"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: --sizes: 'abc' is not a size (positive numbers, e.g. 1000,10000,100000)\n");
  r = run({EMBER_BIN, "scale", "--sizes", "1000,-5", "--", SCALE_GROWTH_BIN, "--n", "{}"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: --sizes: '-5' is not a size (positive numbers, e.g. 1000,10000,100000)\n");
  r = run({EMBER_BIN, "scale", "--sizes", "1000", "--", SCALE_GROWTH_BIN, "--n", "5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: the command has no {} to replace with the size (e.g. -- ./bench --n {})\n");
  r = run({EMBER_BIN, "scale", "--sizes", "1000", "--frequncy", "99", "--", SCALE_GROWTH_BIN, "--n", "{}"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --frequncy (did you mean --frequency?)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ember::testing
