// `ember record --off-cpu` as a user runs it: the wall-time flamegraph of the 20/50/30 program
// by launch and by attach, every sample type read back by go tool pprof, and --sample-type.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/cli/folded_shares.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class OffCpuCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ember-offcpu-cli-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The main thread's wall shares in a --per-thread folded recording, against what the
  // program measured of its own phases (--report).
  void expect_shares(const std::string& folded, const std::string& report) {
    std::map<std::string, double> truth;
    std::ifstream in(report);
    std::string key;
    double seconds = 0;
    while (in >> key >> seconds) truth[key] = seconds;
    const double measured = truth["compute"] + truth["nap"] + truth["wait"];
    ASSERT_GT(measured, 1.0) << "no report from the workload";
    FoldedSummary all = summarize_folded(read_text(folded));
    FoldedSummary main_thread;
    for (const auto& [frames, value] : all.stacks) {
      if (frames.size() > 1 && frames[1] == "wall_shares") {
        main_thread.stacks.emplace_back(frames, value);
        main_thread.total += value;
      }
    }
    ASSERT_GT(main_thread.total, 1'000'000'000) << "less than a second of the main thread's wall time";
    auto share = [&](const char* f) {
      return 100.0 * static_cast<double>(main_thread.containing(f)) / static_cast<double>(main_thread.total);
    };
    EXPECT_NEAR(share("wall::compute"), 100 * truth["compute"] / measured, 5.0);
    EXPECT_NEAR(share("wall::nap"), 100 * truth["nap"] / measured, 5.0);
    EXPECT_NEAR(share("wall::wait_for_feeder"), 100 * truth["wait"] / measured, 5.0);
    // The program's own phases are 20/50/30 on an idle machine; load stretches the compute phase.
    EXPECT_GT(100 * truth["nap"] / measured, 25.0);
    // Off-CPU time is marked, and its stacks reach main.
    int64_t blocked = main_thread.containing("[off-cpu: blocked]");
    EXPECT_GT(static_cast<double>(blocked), 0.6 * static_cast<double>(main_thread.total));
    int64_t blocked_to_main = 0;
    for (const auto& [frames, value] : main_thread.stacks) {
      if (frames.back() != "[off-cpu: blocked]") continue;
      if (std::find(frames.begin(), frames.end(), "main") != frames.end()) blocked_to_main += value;
    }
    EXPECT_GT(static_cast<double>(blocked_to_main), 0.95 * static_cast<double>(blocked));
  }

  fs::path dir_;
};

TEST_F(OffCpuCliTest, WallTimeFlamegraphOfALaunchedCommand) {
  auto r = run({EMBER_BIN, "record", "--off-cpu", "--per-thread", "-o", path("wall.svg"), "-o",
                path("wall.folded"), "--metadata", path("meta.json"), "--", WALL_SHARES_BIN,
                "--seconds", "3", "--report", path("report.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ember: off CPU: "), std::string::npos) << r.err;
  expect_shares(path("wall.folded"), path("report.txt"));
  const std::string svg = read_text(path("wall.svg"));
  EXPECT_NE(svg.find("[off-cpu: blocked]"), std::string::npos);
  EXPECT_NE(svg.find("Purple [off-cpu: blocked]: asleep"), std::string::npos);  // the legend
  EXPECT_NE(svg.find("of wall"), std::string::npos);  // tooltips count wall time
  const std::string meta = read_text(path("meta.json"));
  EXPECT_NE(meta.find("\"off_cpu\""), std::string::npos);
  EXPECT_NE(meta.find("\"switch_outs\""), std::string::npos);
  if (::geteuid() == 0) {
    // --off-cpu samples the CPU per CPU when ember may load BPF, and says so.
    EXPECT_NE(meta.find("\"sampling\": \"per-cpu\""), std::string::npos) << meta;
    EXPECT_NE(r.err.find(" per CPU (other processes' samples dropped in the kernel) "), std::string::npos) << r.err;
  }
}

TEST_F(OffCpuCliTest, WallTimeFlamegraphOfAnAttachedProcess) {
  Background w({WALL_SHARES_BIN, "--seconds", "3.5", "--report", path("report.txt")});
  ASSERT_EQ(w.read_line(30s), "ready");
  auto r = run({EMBER_BIN, "record", "--off-cpu", "--per-thread", "-p", std::to_string(w.pid()), "-d",
                "3", "-o", path("wall.folded")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(w.wait(30s).exit_code, 0);
  expect_shares(path("wall.folded"), path("report.txt"));
}

TEST_F(OffCpuCliTest, GoToolPprofReadsEverySampleType) {
  if (access("/usr/bin/go", X_OK) != 0) GTEST_SKIP() << "go is not installed";
  auto r = run({EMBER_BIN, "record", "-q", "--off-cpu", "-o", path("p.pb.gz"), "--", WALL_SHARES_BIN,
                "--seconds", "1.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* type : {"samples", "cpu", "blocked", "runnable", "off_cpu", "wall"}) {
    auto pprof = run({"/usr/bin/go", "tool", "pprof", std::string("-sample_index=") + type, "-top",
                      path("p.pb.gz")});
    ASSERT_EQ(pprof.exit_code, 0) << type << ": " << pprof.err;
    EXPECT_NE(pprof.out.find(std::string("Type: ") + type), std::string::npos) << pprof.out;
    if (std::string_view(type) == "blocked" || std::string_view(type) == "wall") {
      EXPECT_NE(pprof.out.find("wall::nap"), std::string::npos) << type << "\n" << pprof.out;
    }
  }
  // The default is wall time.
  auto pprof = run({"/usr/bin/go", "tool", "pprof", "-top", path("p.pb.gz")});
  EXPECT_NE(pprof.out.find("Type: wall"), std::string::npos) << pprof.out;
}

TEST_F(OffCpuCliTest, SampleTypePicksOneKind) {
  auto r = run({EMBER_BIN, "record", "-q", "--off-cpu", "-o", path("p.pb.gz"), "--", WALL_SHARES_BIN,
                "--seconds", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(run({EMBER_BIN, "convert", "--sample-type", "cpu", path("p.pb.gz"), "-o", path("cpu.folded")}).exit_code, 0);
  const std::string cpu = read_text(path("cpu.folded"));
  EXPECT_EQ(cpu.find("[off-cpu"), std::string::npos);
  EXPECT_NE(cpu.find("wall::compute"), std::string::npos);
  ASSERT_EQ(run({EMBER_BIN, "flamegraph", "--sample-type", "blocked", path("p.pb.gz"), "-o",
                 path("blocked.svg")}).exit_code, 0);
  const std::string svg = read_text(path("blocked.svg"));
  EXPECT_NE(svg.find("[off-cpu: blocked]"), std::string::npos);
  EXPECT_EQ(svg.find("wall::compute"), std::string::npos);  // it never sleeps
  ASSERT_EQ(run({EMBER_BIN, "convert", "--sample-type", "blocked", path("p.pb.gz"), "-o",
                 path("blocked.folded")}).exit_code, 0);
  FoldedSummary blocked = summarize_folded(read_text(path("blocked.folded")));
  ASSERT_FALSE(blocked.stacks.empty());
  for (const auto& [frames, value] : blocked.stacks) EXPECT_EQ(frames.back(), "[off-cpu: blocked]");
  auto report = run({EMBER_BIN, "report", "--sample-type", "off_cpu", path("p.pb.gz")});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("wall::nap"), std::string::npos) << report.out;
  auto bad = run({EMBER_BIN, "convert", "--sample-type", "idle", path("p.pb.gz"), "-o", path("x.folded")});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no sample type 'idle' (the profile has: samples, cpu, blocked, runnable, off_cpu, wall)"),
            std::string::npos) << bad.err;
  // Without --off-cpu a recording has no wall time to show.
  auto no_wall = run({EMBER_BIN, "record", "-q", "--sample-type", "wall", "-o", path("y.folded"), "--",
                      WALL_SHARES_BIN, "--seconds", "0.2"});
  EXPECT_EQ(no_wall.exit_code, 2);
  EXPECT_NE(no_wall.err.find("--sample-type wall needs --off-cpu"), std::string::npos) << no_wall.err;
}

}  // namespace
}  // namespace ember::testing
