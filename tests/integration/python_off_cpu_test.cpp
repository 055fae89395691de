// Python frames on off-CPU time, through `ember record --off-cpu` with real interpreters: the
// program python/wall_split.py sleeps 70% of its main thread's wall time in waiter() and computes
// 30% in compute(); one thread waits on a lock in wait_for_lock(), one on a socket in reader().
// The wall-time profile must name those Python functions, with files and lines, above the
// native frames they block in, with the shares the program measured of itself (±5 points).
// Every installed CPython 3.8-3.13 by launch; Debian's 3.11 also by attach and through pprof.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/python_interpreters.h"
#include "tests/support/process.h"

namespace ember {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kProgram = std::string(EMBER_SOURCE_DIR) + "/tests/integration/python/wall_split.py";

using testing::Interpreter;
using testing::interpreters;
using testing::kDebianPython;
using testing::read_file_text;

// One folded line of a --per-thread recording: process, thread, frames (root first), value.
struct Line {
  std::string thread;
  std::vector<std::string> frames;
  int64_t value = 0;
  std::string text;

  bool has_prefix(const std::string& prefix) const {
    return std::any_of(frames.begin(), frames.end(), [&](const std::string& f) { return f.starts_with(prefix); });
  }
  bool blocked() const { return !frames.empty() && frames.back() == "[off-cpu: blocked]"; }
};

std::vector<Line> parse(const std::string& text) {
  std::vector<Line> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    Line l;
    l.text = line;
    l.value = std::stoll(line.substr(space + 1));
    std::istringstream frames(line.substr(0, space));
    std::vector<std::string> all;
    for (std::string f; std::getline(frames, f, ';');) all.push_back(f);
    if (all.size() < 2) continue;
    l.thread = all[1];
    l.frames.assign(all.begin() + 2, all.end());
    out.push_back(std::move(l));
  }
  return out;
}

struct Thread {
  std::vector<const Line*> lines;
  int64_t total = 0;
  int64_t with(const std::string& prefix, bool blocked_only = false) const {
    int64_t n = 0;
    for (const Line* l : lines) {
      if (l->has_prefix(prefix) && (!blocked_only || l->blocked())) n += l->value;
    }
    return n;
  }
  double share(const std::string& prefix, bool blocked_only = false) const {
    return total ? 100.0 * static_cast<double>(with(prefix, blocked_only)) / static_cast<double>(total) : 0;
  }
  std::string top(size_t n = 12) const {
    std::vector<const Line*> sorted = lines;
    std::sort(sorted.begin(), sorted.end(), [](const Line* a, const Line* b) { return a->value > b->value; });
    std::string s;
    for (size_t i = 0; i < sorted.size() && i < n; ++i) s += sorted[i]->text.substr(0, 600) + "\n";
    return s;
  }
};

std::map<std::string, Thread> by_thread(const std::vector<Line>& lines) {
  std::map<std::string, Thread> out;
  for (const Line& l : lines) {
    Thread& t = out[l.thread];
    t.lines.push_back(&l);
    t.total += l.value;
  }
  return out;
}

class PythonOffCpu : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("ember-python-offcpu-" + std::to_string(getpid()) + "-" + name);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The main thread's split between waiter() (asleep) and compute(), against what the program
  // measured of its own phases; `blocked_threads`: threads whose wall time is (nearly) all spent
  // blocked in the named Python function.
  void expect_wall_split(const std::string& folded, const std::string& report,
                         const std::map<std::string, std::string>& blocked_threads) {
    std::map<std::string, double> truth;
    std::ifstream in(report);
    std::string key;
    double seconds = 0;
    while (in >> key >> seconds) truth[key] = seconds;
    const double measured = truth["sleep"] + truth["compute"];
    ASSERT_GT(measured, 1.0) << "no report from the program";
    const std::string text = read_file_text(folded);
    const std::vector<Line> lines = parse(text);
    auto threads = by_thread(lines);
    const Thread& main_thread = threads["pymain"];
    ASSERT_GT(main_thread.total, 1'000'000'000) << "less than a second of the main thread's wall time\n"
                                                << text.substr(0, 3000);
    const double sleep_share = 100 * truth["sleep"] / measured;
    EXPECT_GT(sleep_share, 40.0) << "the program's own split is off: the machine is too busy";
    EXPECT_NEAR(main_thread.share("waiter (wall_split.py:"), sleep_share, 5.0) << main_thread.top();
    EXPECT_NEAR(main_thread.share("compute (wall_split.py:"), 100 * truth["compute"] / measured, 5.0)
        << main_thread.top();
    // The sleep is off-CPU time charged to waiter's line, with its callers, above the native
    // frames it sleeps in.
    EXPECT_NEAR(main_thread.share("waiter (wall_split.py:", true), sleep_share, 5.0) << main_thread.top();
    // (3.8-3.10 have native call frames between Python frames.)
    const std::regex waiter_stack(R"(;main \(wall_split\.py:\d+\);([^;]+;)*run \(wall_split\.py:\d+\);([^;]+;)*)"
                                  R"(waiter \(wall_split\.py:28\);.+;\[off-cpu: blocked\] \d+$)");
    EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const Line& l) { return std::regex_search(l.text, waiter_stack); }))
        << main_thread.top();
    for (const auto& [thread, function] : blocked_threads) {
      const Thread& t = threads[thread];
      ASSERT_GT(t.total, 500'000'000) << thread << ": less than half a second of wall time\n" << text.substr(0, 3000);
      EXPECT_GT(t.share(function + " (wall_split.py:", true), 90.0) << thread << "\n" << t.top();
    }
  }

  fs::path dir_;
};

class PythonOffCpuVersions : public PythonOffCpu, public ::testing::WithParamInterface<Interpreter> {};

TEST_P(PythonOffCpuVersions, WallTimeNamesThePythonFunctionsThatWait) {
  const Interpreter& py = GetParam();
  if (::access(py.path.c_str(), X_OK) != 0) GTEST_SKIP() << py.path << " is not installed on this machine";
  auto r = testing::run({EMBER_BIN, "record", "--off-cpu", "--per-thread", "-o", path("wall.folded"), "--metadata",
                         path("meta.json"), "--", py.path, kProgram, "3", path("report.txt")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Python frames in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" off-CPU blocks"), std::string::npos) << r.err;
  expect_wall_split(path("wall.folded"), path("report.txt"),
                    {{"pylock", "wait_for_lock"}, {"pyreader", "reader"}});
  EXPECT_NE(read_file_text(path("meta.json")).find("\"python_off_cpu_merged\""), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Installed, PythonOffCpuVersions, ::testing::ValuesIn(interpreters()),
                         [](const ::testing::TestParamInfo<Interpreter>& i) { return i.param.name; });

// By attach: the lock waiter's rounds start after the recording does; the socket reader blocked
// before it started, so its stack is not known (a stand-in frame says so) and is not checked.
TEST_F(PythonOffCpu, WallTimeOfAnAttachedProgram) {
  if (::access(kDebianPython.c_str(), X_OK) != 0) GTEST_SKIP() << kDebianPython << " is not installed";
  testing::Background program({kDebianPython, kProgram, "4.5", path("report.txt")});
  ASSERT_EQ(program.read_line(30s), "ready");
  auto r = testing::run({EMBER_BIN, "record", "--off-cpu", "--per-thread", "-p", std::to_string(program.pid()), "-d",
                         "3", "-o", path("wall.folded")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(program.wait(30s).exit_code, 0);
  // The report covers the program's whole run, the recording 3 s of it: same split.
  expect_wall_split(path("wall.folded"), path("report.txt"), {{"pylock", "wait_for_lock"}});
}

// go tool pprof's off-CPU view names the Python functions that wait.
TEST_F(PythonOffCpu, PprofOffCpuViewNamesThePythonFunctions) {
  if (::access(kDebianPython.c_str(), X_OK) != 0) GTEST_SKIP() << kDebianPython << " is not installed";
  if (std::string(EMBER_GO_EXECUTABLE).empty()) GTEST_SKIP() << "go was not found when configuring";
  auto r = testing::run({EMBER_BIN, "record", "-q", "--off-cpu", "-o", path("wall.pb.gz"), "--", kDebianPython,
                         kProgram, "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto go = testing::run({"/usr/bin/env", "HOME=" + dir_.string(), "GOCACHE=" + path("gocache"), "GOFLAGS=",
                          "GO111MODULE=off", EMBER_GO_EXECUTABLE, "tool", "pprof", "-sample_index=off_cpu", "-top",
                          "-nodefraction=0", path("wall.pb.gz")});
  ASSERT_EQ(go.exit_code, 0) << go.err;
  EXPECT_NE(go.out.find("Type: off_cpu"), std::string::npos) << go.out;
  // -top's last column is the function's name.
  std::vector<std::string> names;
  std::istringstream rows(go.out);
  for (std::string row; std::getline(rows, row);) names.push_back(row.substr(row.rfind(' ') + 1));
  for (const char* function : {"waiter", "wait_for_lock", "reader", "main"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), function), names.end()) << function << "\n" << go.out;
  }
  // compute() runs: it has CPU time, and next to none off CPU.
  auto cpu = testing::run({"/usr/bin/env", "HOME=" + dir_.string(), "GOCACHE=" + path("gocache"), "GOFLAGS=",
                           "GO111MODULE=off", EMBER_GO_EXECUTABLE, "tool", "pprof", "-sample_index=cpu", "-top",
                           path("wall.pb.gz")});
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  EXPECT_NE(cpu.out.find("compute"), std::string::npos) << cpu.out;
}

}  // namespace
}  // namespace ember
