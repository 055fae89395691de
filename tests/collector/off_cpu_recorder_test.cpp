// --off-cpu against real processes: the 20/50/30 program's main thread computes, sleeps and
// waits on a pipe for another thread; the wall time the Recorder charges to each of those
// stacks must match, by launch and by attach, with the CPU sampled per CPU and per thread. A thread that loses its CPU to busier ones shows
// runnable time. Frames are named with the workloads' own .symtab (FixtureSymbols).

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "collector/recorder.h"
#include "fixture_symbols.h"
#include "tests/support/process.h"

namespace ember::collector {
namespace {

using namespace std::chrono_literals;
using test::FixtureSymbols;

const std::string kWallShares = EMBER_WORKLOAD_WALL_SHARES;
const std::string kContention = EMBER_WORKLOAD_CPU_CONTENTION;

struct Stack {
  int32_t pid = 0;
  int32_t tid = 0;
  std::vector<std::string> workload_frames;  // leaf first, frames in the workload binary only
  bool has_kernel_frame = false;
  profile::RawStackCounts counts;
  uint64_t wall() const { return counts.weight + counts.blocked_ns + counts.runnable_ns; }
  bool has(const std::string& f) const {
    return std::find(workload_frames.begin(), workload_frames.end(), f) != workload_frames.end();
  }
};

std::vector<Stack> stacks_of(const profile::RawProfile& p, const std::string& workload) {
  auto symbols = FixtureSymbols::load(workload);
  EXPECT_TRUE(symbols.has_value());
  struct stat st{};
  EXPECT_EQ(::stat(workload.c_str(), &st), 0);
  std::vector<Stack> out;
  p.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame> frames,
                       const profile::RawStackCounts& counts) {
    Stack s;
    s.pid = o.pid;
    s.tid = o.tid;
    s.counts = counts;
    for (const profile::RawFrame& f : frames) {
      if (!f.module.valid()) continue;
      const profile::Module& m = p.module(f.module);
      if (m.kind == profile::MappingKind::kKernel) s.has_kernel_frame = true;
      if (symbols && m.inode == st.st_ino && m.device == st.st_dev) {
        s.workload_frames.push_back(symbols->function_at(f.offset));
      }
    }
    out.push_back(std::move(s));
  });
  return out;
}

RecordOptions off_cpu_options(Sampling sampling = Sampling::kAuto) {
  RecordOptions o;
  o.off_cpu = true;
  o.sampling = sampling;
  return o;
}

void poll_for(Recorder& rec, std::chrono::milliseconds how_long) {
  auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    auto more = rec.poll(100ms);
    ASSERT_TRUE(more.has_value()) << more.error().message();
    if (!*more) return;
  }
}

// What the 20/50/30 program measured of its own phases (--report): shares in percent.
struct PhaseShares {
  double compute = 0, nap = 0, wait = 0;
};
PhaseShares read_report(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, double> seconds;
  std::string key;
  double value = 0;
  while (in >> key >> value) seconds[key] = value;
  const double total = seconds["compute"] + seconds["nap"] + seconds["wait"];
  EXPECT_GT(total, 1.0) << "no report from the workload in " << path;
  if (total <= 0) return {};
  return {100 * seconds["compute"] / total, 100 * seconds["nap"] / total, 100 * seconds["wait"] / total};
}

std::string report_path(const char* name) {
  return "/tmp/ember_off_cpu_" + std::string(name) + "_" + std::to_string(::getpid()) + ".txt";
}

// The main thread's wall time: 20% compute, 50% nap, 30% wait_for_feeder, within 5 points of
// what the program measured of itself (20/50/30 on an idle machine; on a loaded one a phase
// overruns by the time the thread waits for a CPU), with the off-CPU stacks unwound up to main.
void expect_wall_shares(const profile::RawProfile& p, int32_t pid, const PhaseShares& truth) {
  ASSERT_TRUE(p.off_cpu);
  uint64_t compute = 0, nap = 0, wait = 0, total = 0, off_total = 0, off_to_main = 0, nap_blocked = 0;
  for (const Stack& s : stacks_of(p, kWallShares)) {
    if (s.pid != pid || s.tid != pid) continue;  // the main thread
    total += s.wall();
    const uint64_t off = s.counts.blocked_ns + s.counts.runnable_ns;
    off_total += off;
    if (s.has("main")) off_to_main += off;
    if (s.has("wall::compute")) compute += s.wall();
    if (s.has("wall::nap")) {
      nap += s.wall();
      nap_blocked += s.counts.blocked_ns;
      if (off > 0) {
        EXPECT_TRUE(s.has_kernel_frame) << "an off-CPU stack starts in the kernel";
      }
    }
    if (s.has("wall::wait_for_feeder")) wait += s.wall();
  }
  ASSERT_GT(total, 1'000'000'000u) << "less than a second of wall time";
  auto share = [&](uint64_t v) { return 100.0 * static_cast<double>(v) / static_cast<double>(total); };
  const std::string shares = "ember: compute " + std::to_string(share(compute)) + "% nap " +
                             std::to_string(share(nap)) + "% wait " + std::to_string(share(wait)) +
                             "%; the program measured " + std::to_string(truth.compute) + "/" +
                             std::to_string(truth.nap) + "/" + std::to_string(truth.wait);
  std::printf("%s\n", shares.c_str());
  EXPECT_NEAR(share(compute), truth.compute, 5.0) << shares;
  EXPECT_NEAR(share(nap), truth.nap, 5.0) << shares;
  EXPECT_NEAR(share(wait), truth.wait, 5.0) << shares;
  // On an idle machine the program's own phases are 20/50/30 (a loaded one stretches the
  // compute phase: it ends only when the thread gets a CPU again); each is there.
  EXPECT_GT(truth.compute, 10.0);
  EXPECT_GT(truth.nap, 25.0);
  EXPECT_GT(truth.wait, 15.0);
  // Sleeping is blocked time, not waiting for a CPU.
  EXPECT_GT(static_cast<double>(nap_blocked), 0.9 * static_cast<double>(nap));
  EXPECT_GT(static_cast<double>(off_to_main), 0.95 * static_cast<double>(off_total));
}

// The CPU sampled per CPU (the default with --off-cpu, as root) and per thread.
class OffCpuSampling : public ::testing::TestWithParam<Sampling> {
 protected:
  void SetUp() override {
    if (GetParam() == Sampling::kPerCpu && ::geteuid() != 0) {
      GTEST_SKIP() << "sampling per CPU needs CAP_PERFMON and CAP_BPF (run as root)";
    }
  }
  void expect_sampling(const Recorder& rec) const {
    EXPECT_EQ(rec.samples_per_cpu(), GetParam() == Sampling::kPerCpu);
  }
};

TEST_P(OffCpuSampling, LaunchedCommandWallShares) {
  const std::string report = report_path("launch");
  Target target;
  target.command = {kWallShares, "--seconds", "3", "--report", report};
  auto rec = Recorder::start(target, off_cpu_options(GetParam()));
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  expect_sampling(**rec);
  ASSERT_TRUE((*rec)->off_cpu_counters().has_value()) << "context-switch events refused";
  poll_for(**rec, 20s);
  (*rec)->stop();
  profile::RawProfile p = (*rec)->take_profile();
  expect_wall_shares(p, (*rec)->command_pid(), read_report(report));
  ::unlink(report.c_str());
  const auto c = *(*rec)->off_cpu_counters();
  EXPECT_GT(c.switches.switch_outs, 100u);
  EXPECT_EQ(c.pending_bytes, 0u);
}

TEST_P(OffCpuSampling, AttachedProcessWallShares) {
  const std::string report = report_path("attach");
  ember::testing::Background w({kWallShares, "--seconds", "3.5", "--report", report});
  ASSERT_EQ(w.read_line(30s), "ready");
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, off_cpu_options(GetParam()));
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  expect_sampling(**rec);
  poll_for(**rec, 3s);
  (*rec)->stop();
  profile::RawProfile p = (*rec)->take_profile();
  EXPECT_EQ(w.wait(30s).exit_code, 0);
  expect_wall_shares(p, w.pid(), read_report(report));
  ::unlink(report.c_str());
}

INSTANTIATE_TEST_SUITE_P(Both, OffCpuSampling, ::testing::Values(Sampling::kPerCpu, Sampling::kPerThread),
                         [](const ::testing::TestParamInfo<Sampling>& info) {
                           return info.param == Sampling::kPerCpu ? std::string("PerCpu") : std::string("PerThread");
                         });

TEST(OffCpuRecorder, ThreadLosingItsCpuShowsRunnableTime) {
  ember::testing::Background w({kContention, "--seconds", "60"});
  ASSERT_EQ(w.read_line(30s), "ready");
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, off_cpu_options());
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  poll_for(**rec, 2s);
  (*rec)->stop();
  uint64_t runnable = 0, blocked = 0, total = 0;
  for (const Stack& s : stacks_of((*rec)->take_profile(), kContention)) {
    if (s.pid != w.pid() || s.tid != w.pid() || !s.has("contention::victim")) continue;
    runnable += s.counts.runnable_ns;
    blocked += s.counts.blocked_ns;
    total += s.wall();
  }
  ASSERT_GT(total, 500'000'000u);
  // Three threads share one CPU: the victim waits for it about two thirds of the time.
  EXPECT_GT(static_cast<double>(runnable), 0.4 * static_cast<double>(total));
  EXPECT_LT(static_cast<double>(blocked), 0.05 * static_cast<double>(total));
}

TEST(OffCpuRecorder, RefusedSwitchEventsLeaveOneLineAndTheCpuProfile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  std::ifstream paranoid_file("/proc/sys/kernel/perf_event_paranoid");
  int paranoid = 0;
  paranoid_file >> paranoid;
  if (paranoid < 2) GTEST_SKIP() << "kernel.perf_event_paranoid < 2 lets users record switches";
  std::string report = testing::as_nobody([] {
    Target t;
    t.command = {kWallShares, "--seconds", "1.5"};
    auto rec = Recorder::start(t, off_cpu_options());
    if (!rec) return rec.error().message();
    auto end = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < end) {
      auto more = (*rec)->poll(100ms);
      if (!more || !*more) break;
    }
    (*rec)->stop();
    profile::RawProfile p = (*rec)->take_profile();
    std::string out;
    for (const std::string& w : (*rec)->warnings()) out += "warning: " + w + "\n";
    out += (*rec)->off_cpu_counters() ? "off-cpu on\n" : "off-cpu off\n";
    out += p.total_samples() > 20 ? "samples many\n" : "samples few\n";
    out += p.totals().blocked_ns == 0 ? "no off-cpu time\n" : "off-cpu time\n";
    return out;
  });
  EXPECT_NE(report.find("warning: off-CPU time not recorded: context-switch events with kernel stacks "
                        "need CAP_PERFMON (or root), or kernel.perf_event_paranoid <= 1 (it is " +
                        std::to_string(paranoid) + "); recording CPU samples only\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("off-cpu off\n"), std::string::npos) << report;
  EXPECT_NE(report.find("samples many\n"), std::string::npos) << report;
  EXPECT_NE(report.find("no off-cpu time\n"), std::string::npos) << report;
}

}  // namespace
}  // namespace ember::collector
