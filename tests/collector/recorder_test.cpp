// Integration tests: the Recorder samples the workload programs of tests/fixtures/workloads and
// the profiles are checked for their shape (the known call chains) and proportions. Frames
// are named with the workload's own .symtab (FixtureSymbols), not with the symbolizer.

#include "collector/recorder.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "fixture_symbols.h"
#include "tests/support/process.h"

namespace ember::collector {
namespace {

using namespace std::chrono_literals;
using test::FixtureSymbols;

const std::string kSeventyThirty = EMBER_WORKLOAD_SEVENTY_THIRTY;
const std::string kLateThread = EMBER_WORKLOAD_LATE_THREAD;
const std::string kExitMidway = EMBER_WORKLOAD_EXIT_MIDWAY;

constexpr const char* kAlpha = "truth::Worker::compute_alpha";
constexpr const char* kBeta = "truth::Worker::compute_beta";

// A workload process started by the test (not by the Recorder), for -p and -a. The workloads
// print "ready" once set up.
using Workload = ember::testing::Background;
bool ready(Workload& w) { return w.read_line(30s) == "ready"; }

// One unique stack, with the frames that lie in the workload's executable named.
struct NamedStack {
  int32_t pid = 0;
  int32_t tid = 0;
  std::string comm;
  std::string thread_comm;
  std::vector<std::string> workload_frames;  // leaf first, only frames in the workload binary, up to main
  // Frames of the workload binary beyond main: its _start, which DWARF call graphs (the default)
  // reach through libc's start code, and frame pointers do not.
  std::vector<std::string> outer_frames;
  bool has_kernel_frame = false;
  bool has_unmapped_frame = false;
  std::string caller_of_main;  // the module of the frame that called main (libc's start code)
  uint64_t samples = 0;
  uint64_t weight = 0;
};

std::vector<NamedStack> name_stacks(const profile::RawProfile& p, const std::string& workload,
                                    const FixtureSymbols& symbols) {
  struct stat st{};
  EXPECT_EQ(::stat(workload.c_str(), &st), 0);
  std::vector<NamedStack> out;
  p.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame> frames,
                       const profile::RawStackCounts& counts) {
    NamedStack s;
    s.pid = o.pid;
    s.tid = o.tid;
    s.comm = std::string(p.str(o.comm));
    s.thread_comm = std::string(p.str(o.thread_comm));
    s.samples = counts.samples;
    s.weight = counts.weight;
    bool after_main = false;
    bool seen_main = false;
    for (const profile::RawFrame& f : frames) {
      if (!f.module.valid()) {
        s.has_unmapped_frame = true;
        after_main = false;
        continue;
      }
      const profile::Module& m = p.module(f.module);
      if (after_main) s.caller_of_main = m.path;
      after_main = false;
      if (m.kind == profile::MappingKind::kKernel) s.has_kernel_frame = true;
      if (m.inode == st.st_ino && m.device == st.st_dev) {
        if (seen_main) {
          s.outer_frames.push_back(symbols.function_at(f.offset));
          continue;
        }
        s.workload_frames.push_back(symbols.function_at(f.offset));
        after_main = seen_main = s.workload_frames.back() == "main";
      }
    }
    out.push_back(std::move(s));
  });
  return out;
}

FixtureSymbols load_symbols(const std::string& path) {
  auto s = FixtureSymbols::load(path);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message());
  return s ? std::move(*s) : FixtureSymbols();
}

// Polls until the recorder reports the end, or `limit` passes; true when it ended by itself.
bool record_until_end(Recorder& rec, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto more = rec.poll(100ms);
    EXPECT_TRUE(more.has_value()) << (more ? "" : more.error().message());
    if (!more || !*more) return more.has_value();
  }
  return false;
}

// Polls until at least `samples` were recorded (or `limit` passes).
void record_samples(Recorder& rec, uint64_t samples, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && rec.stats().samples < samples) {
    auto more = rec.poll(100ms);
    ASSERT_TRUE(more.has_value()) << more.error().message();
    if (!*more) return;
  }
}

// The 70/30 program's profile: both shares within 5 points, and the known call chain.
void expect_seventy_thirty(const profile::RawProfile& p, int32_t pid) {
  FixtureSymbols symbols = load_symbols(kSeventyThirty);
  uint64_t alpha = 0, beta = 0, total = 0, alpha_exact = 0, beta_exact = 0, called_from_libc = 0;
  std::string other_chains;  // a few chains that differ, for the failure message
  const std::vector<std::string> alpha_chain = {kAlpha, "truth::Worker::step", "truth::run", "main"};
  const std::vector<std::string> beta_chain = {kBeta, "truth::Worker::step", "truth::run", "main"};
  for (const NamedStack& s : name_stacks(p, kSeventyThirty, symbols)) {
    if (s.pid != pid) continue;
    total += s.samples;
    EXPECT_EQ(s.comm, "seventy_thirty");
    if (s.workload_frames.empty()) continue;
    // Shared libraries are mapped too (from /proc or MMAP2): main was called from libc.
    if (s.caller_of_main.find("/libc.so") != std::string::npos) called_from_libc += s.samples;
    if (s.workload_frames.front() == kAlpha) {
      alpha += s.samples;
      if (s.workload_frames == alpha_chain) {
        alpha_exact += s.samples;
      } else if (other_chains.size() < 2000) {
        for (const std::string& f : s.workload_frames) other_chains += f + " <- ";
        other_chains += "\n";
      }
    } else if (s.workload_frames.front() == kBeta) {
      beta += s.samples;
      if (s.workload_frames == beta_chain) beta_exact += s.samples;
    }
  }
  ASSERT_GT(total, 300u) << "too few samples to judge shares";
  // Nearly all the time goes to the two functions (the rest: reading the CPU clock).
  EXPECT_GT(static_cast<double>(alpha + beta), 0.8 * static_cast<double>(total));
  const double alpha_share = 100.0 * static_cast<double>(alpha) / static_cast<double>(alpha + beta);
  EXPECT_NEAR(alpha_share, 70.0, 5.0) << "alpha " << alpha << " beta " << beta;
  EXPECT_NEAR(100.0 - alpha_share, 30.0, 5.0);
  // Frame pointers give the whole chain, leaf first, up to main; a sample taken at a function's
  // very first instructions (before its frame exists) may miss one caller.
  EXPECT_GT(static_cast<double>(alpha_exact), 0.95 * static_cast<double>(alpha)) << other_chains;
  EXPECT_GT(static_cast<double>(beta_exact), 0.95 * static_cast<double>(beta));
  EXPECT_GT(static_cast<double>(called_from_libc), 0.95 * static_cast<double>(alpha + beta));
}

// The module the recorder marked as the main one is the workload's executable.
void expect_main_module(const profile::RawProfile& p, const std::string& path) {
  ASSERT_TRUE(p.main_module.valid());
  EXPECT_EQ(p.main_module.value, 0u);
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  const profile::Module& m = p.module(p.main_module);
  EXPECT_EQ(m.inode, st.st_ino);
  EXPECT_EQ(m.kind, profile::MappingKind::kFile);
  EXPECT_FALSE(m.build_id.empty());
  ASSERT_NE(m.file, nullptr);  // held open for the symbolizer
  EXPECT_TRUE(m.file->valid());
}

void expect_window_metadata(const Recorder& rec, const profile::RawProfile& p) {
  EXPECT_EQ(p.event, rec.event_name());
  EXPECT_TRUE(p.event == "cycles" || p.event == "cpu-clock") << p.event;
  EXPECT_EQ(p.period_ns, static_cast<int64_t>(1'000'000'000ull / rec.frequency_hz()));
  EXPECT_GT(p.start_time_ns, 0);
  EXPECT_GE(p.end_time_ns, p.start_time_ns);
  if (p.event == "cpu-clock") {
    // The software timer's period is the nominal one in nanoseconds: weight = samples * period.
    p.for_each_stack([&](const profile::SampleOrigin&, std::span<const profile::RawFrame>,
                         const profile::RawStackCounts& c) {
      EXPECT_EQ(c.weight, c.samples * static_cast<uint64_t>(p.period_ns));
    });
    EXPECT_FALSE(rec.event_note().empty());
  }
}

TEST(Recorder, AttachByPidSeventyThirty) {
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  record_samples(**rec, 2000, 20s);
  (*rec)->stop();
  profile::RawProfile p = (*rec)->take_profile();
  EXPECT_EQ((*rec)->stats().samples, p.total_samples());
  EXPECT_EQ((*rec)->stats().malformed_records, 0u);
  expect_seventy_thirty(p, w.pid());
  expect_main_module(p, kSeventyThirty);
  expect_window_metadata(**rec, p);
}

TEST(Recorder, LaunchSeventyThirty) {
  Target target;
  target.command = {kSeventyThirty, "--seconds", "4"};
  auto rec = Recorder::start(target, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  const int32_t pid = (*rec)->command_pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(record_until_end(**rec, 60s)) << "the recording did not end with the command";
  ASSERT_TRUE((*rec)->command_wait_status().has_value());
  EXPECT_TRUE(WIFEXITED(*(*rec)->command_wait_status()));
  EXPECT_EQ(WEXITSTATUS(*(*rec)->command_wait_status()), 0);
  EXPECT_FALSE(*(*rec)->poll(0ms));  // stays ended
  (*rec)->stop();
  profile::RawProfile p = (*rec)->take_profile();
  expect_seventy_thirty(p, pid);
  expect_main_module(p, kSeventyThirty);
  // Events were enabled at exec: nothing of the pre-exec child (a copy of this test) shows up.
  for (const NamedStack& s : name_stacks(p, kSeventyThirty, load_symbols(kSeventyThirty))) {
    EXPECT_EQ(s.comm, "seventy_thirty");
  }
}

// Python frames are on by default, but a program without CPython does not pay for them: the
// poller wakes at a quarter of the ring (~15 DWARF samples), not at every sample as it does for
// a CPython process (whose stacks must be read while the thread still runs them).
TEST(Recorder, ProgramWithoutCPythonWakesThePollerAtAQuarterOfTheRing) {
  Target target;
  target.command = {kSeventyThirty, "--seconds", "3"};
  RecordOptions options;
  ASSERT_TRUE(options.python.enabled);
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  const CollectorStats& stats = (*rec)->stats();
  std::printf("[ figures  ] %llu samples, %llu ring wake-ups\n", static_cast<unsigned long long>(stats.samples),
              static_cast<unsigned long long>(stats.ring_wakeups));
  ASSERT_GT(stats.samples, 1000u);
  EXPECT_GT(stats.ring_wakeups, 0u);
  EXPECT_LE(stats.ring_wakeups * 4, stats.samples);
}

TEST(Recorder, ThreadCreatedAfterAttachingIsSampled) {
  Workload w({kLateThread, "--seconds", "2"});
  ASSERT_TRUE(ready(w));
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  ASSERT_TRUE(*(*rec)->poll(50ms));
  ::kill(w.pid(), SIGUSR1);  // the thread starts only now
  EXPECT_TRUE(record_until_end(**rec, 60s)) << "the recording did not end when the process exited";
  profile::RawProfile p = (*rec)->take_profile();
  uint64_t late = 0;
  std::set<std::string> thread_names;
  for (const NamedStack& s : name_stacks(p, kLateThread, load_symbols(kLateThread))) {
    if (s.workload_frames.empty() || s.workload_frames.front() != "truth::late_thread_work") continue;
    late += s.samples;
    EXPECT_EQ(s.pid, w.pid());
    EXPECT_NE(s.tid, w.pid());
    EXPECT_EQ(s.comm, "late_thread");
    thread_names.insert(s.thread_comm);
  }
  EXPECT_GT(late, 100u);
  // The thread names itself right away: the COMM record renamed it.
  EXPECT_TRUE(thread_names.contains("late-worker")) << "thread names seen: " << thread_names.size();
}

TEST(Recorder, ProcessExitingMidRecordingEndsPollAndKeepsSamples) {
  Workload w({kExitMidway, "--seconds", "1.5", "--start-delay", "0.3"});
  ASSERT_TRUE(ready(w));
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  profile::RawProfile p = (*rec)->take_profile();
  std::map<std::string, uint64_t> leaves;
  std::set<int32_t> tids;
  for (const NamedStack& s : name_stacks(p, kExitMidway, load_symbols(kExitMidway))) {
    // (Children the target forks are recorded too; only the target runs the workload's code.)
    if (s.workload_frames.empty()) continue;
    EXPECT_EQ(s.pid, w.pid());
    tids.insert(s.tid);
    leaves[s.workload_frames.front()] += s.samples;
  }
  EXPECT_GT(leaves["truth::busy_until_exit"], 100u);
  EXPECT_GT(leaves["truth::short_lived_thread_work"], 10u);  // threads that came and went
  EXPECT_GE(tids.size(), 3u);
  EXPECT_EQ(w.wait().exit_code, 3);
}

// A launched command that forks a child and exits with 5: the child is sampled (by inherited
// events, or per CPU by the program that follows children), up to main.
void expect_fork_and_exit(Sampling sampling) {
  Target target;
  target.command = {kExitMidway, "--seconds", "1.5", "--fork", "--exit-code", "5"};
  RecordOptions options;
  options.sampling = sampling;
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_EQ((*rec)->samples_per_cpu(), sampling == Sampling::kPerCpu);
  const int32_t pid = (*rec)->command_pid();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  ASSERT_TRUE((*rec)->command_wait_status().has_value());
  EXPECT_EQ(WEXITSTATUS(*(*rec)->command_wait_status()), 5);
  profile::RawProfile p = (*rec)->take_profile();
  uint64_t child_samples = 0;
  uint64_t parent_samples = 0;
  for (const NamedStack& s : name_stacks(p, kExitMidway, load_symbols(kExitMidway))) {
    if (s.workload_frames.empty()) continue;
    if (s.workload_frames.front() == "truth::child_process_work") {
      // The forked child has its parent's maps.
      EXPECT_NE(s.pid, pid);
      EXPECT_EQ(s.comm, "exit_midway");
      EXPECT_EQ(s.workload_frames.back(), "main");
      child_samples += s.samples;
    }
    if (s.workload_frames.front() == "truth::busy_until_exit") {
      EXPECT_EQ(s.pid, pid);
      parent_samples += s.samples;
    }
  }
  EXPECT_GT(child_samples, 50u);
  EXPECT_GT(parent_samples, 100u);
}

TEST(Recorder, LaunchedCommandThatForksAndExits) { expect_fork_and_exit(Sampling::kAuto); }

// Sampling per CPU (--sampling per-cpu, the default with --off-cpu): one timer per CPU, and the
// samples of every process but the targets dropped in the kernel. A busy process outside the
// recording must not appear; the command's 70/30 split must.
TEST(RecorderPerCpu, LaunchSeventyThirtyAndNothingElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "sampling per CPU needs CAP_PERFMON and CAP_BPF (run as root)";
  Workload outsider({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(outsider));
  Target target;
  target.command = {kSeventyThirty, "--seconds", "3"};
  RecordOptions options;
  options.sampling = Sampling::kPerCpu;
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE((*rec)->samples_per_cpu());
  const int32_t pid = (*rec)->command_pid();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  profile::RawProfile p = (*rec)->take_profile();
  std::map<int32_t, uint64_t> per_pid;
  p.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                       const profile::RawStackCounts& c) { per_pid[o.pid] += c.samples; });
  EXPECT_EQ(per_pid.count(outsider.pid()), 0u) << per_pid[outsider.pid()] << " samples of the outsider";
  EXPECT_EQ(per_pid.size(), 1u) << "only the command runs";
  expect_seventy_thirty(p, pid);  // every sample of it named seventy_thirty: none before its exec
  expect_main_module(p, kSeventyThirty);
}

// Children forked during the recording are found by the program at their first sample.
TEST(RecorderPerCpu, LaunchedCommandThatForksAndExits) {
  if (::geteuid() != 0) GTEST_SKIP() << "sampling per CPU needs CAP_PERFMON and CAP_BPF (run as root)";
  expect_fork_and_exit(Sampling::kPerCpu);
}

// -p per CPU, as per thread: the process and the children it forks while recorded, not a child
// it had before (per-thread events reach it no more than they do).
TEST(RecorderPerCpu, AttachedProcessAndOnlyTheChildrenItForksMeanwhile) {
  if (::geteuid() != 0) GTEST_SKIP() << "sampling per CPU needs CAP_PERFMON and CAP_BPF (run as root)";
  // sh starts seventy_thirty, then becomes exit_midway, which forks a child a second later (the
  // recording has started by then: opening it takes milliseconds).
  Workload w({"/bin/sh", "-c", "'" + kSeventyThirty + "' --seconds 3.5 & exec '" + kExitMidway +
                                   "' --seconds 2 --start-delay 1 --fork"});
  ASSERT_TRUE(ready(w));
  ASSERT_TRUE(ready(w));
  RecordOptions options;
  options.sampling = Sampling::kPerCpu;
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE((*rec)->samples_per_cpu());
  EXPECT_TRUE(record_until_end(**rec, 60s));
  profile::RawProfile p = (*rec)->take_profile();
  uint64_t child = 0, parent = 0, older_child = 0;
  p.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                       const profile::RawStackCounts& c) {
    if (o.pid == w.pid()) parent += c.samples;
  });
  for (const NamedStack& s : name_stacks(p, kExitMidway, load_symbols(kExitMidway))) {
    if (!s.workload_frames.empty() && s.workload_frames.front() == "truth::child_process_work") child += s.samples;
  }
  for (const NamedStack& s : name_stacks(p, kSeventyThirty, load_symbols(kSeventyThirty))) {
    if (!s.workload_frames.empty()) older_child += s.samples;
  }
  EXPECT_GT(parent, 100u);
  EXPECT_GT(child, 50u);
  EXPECT_EQ(older_child, 0u);
}

// `command`, launched and sampled per CPU, runs seventy_thirty somewhere below itself: it must
// be sampled. Checked as its share of the recording, not as a number of samples: parallel tests
// may take part of its CPU. (Everything else the command runs sleeps or waits; without the
// target following, seventy_thirty has no sample at all and the recording next to none.)
void expect_seventy_thirty_below(const std::vector<std::string>& command) {
  Target target;
  target.command = command;
  RecordOptions options;
  options.sampling = Sampling::kPerCpu;
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  profile::RawProfile p = (*rec)->take_profile();
  uint64_t samples = 0;
  for (const NamedStack& s : name_stacks(p, kSeventyThirty, load_symbols(kSeventyThirty))) {
    if (!s.workload_frames.empty()) samples += s.samples;
  }
  const uint64_t total = p.total_samples();
  EXPECT_GT(total, 200u) << "of ~2,000 in 2 s on a CPU of its own";
  EXPECT_GT(static_cast<double>(samples), 0.8 * static_cast<double>(total)) << samples << " of " << total;
}

// A process in a PID namespace of its own (unshare, bwrap, a container started by the command)
// is sampled too: the program keys targets by the kernel's PIDs when ember runs in the initial
// namespace.
TEST(RecorderPerCpu, ChildInANestedPidNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "sampling per CPU and unshare -p need root";
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/unshare (util-linux)";
  expect_seventy_thirty_below({"/usr/bin/unshare", "--pid", "--fork", kSeventyThirty, "--seconds", "2"});
}

// A child whose parent exited before its first sample belongs to init (or a subreaper): the
// program's walk up its parents cannot find the target, its fork record can. Its first moments,
// until ember reads that record, are not sampled.
TEST(RecorderPerCpu, ChildOfAnExitedParentIsStillATarget) {
  if (::geteuid() != 0) GTEST_SKIP() << "sampling per CPU needs CAP_PERFMON and CAP_BPF (run as root)";
  // The subshell forks seventy_thirty and exits at once; the outer shell waits for it to end.
  expect_seventy_thirty_below({"/bin/sh", "-c", "( '" + kSeventyThirty + "' --seconds 2 >/dev/null & ); sleep 2.5"});
}

TEST(Recorder, ExecMidRecordingSwitchesToTheNewImage) {
  Workload w({kExitMidway, "--seconds", "1", "--start-delay", "0.3", "--exec", kSeventyThirty, "--seconds", "2"});
  ASSERT_TRUE(ready(w));
  auto rec = Recorder::start(Target{{w.pid()}, false, {}}, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE(record_until_end(**rec, 60s)) << "the recording did not end when the new image exited";
  profile::RawProfile p = (*rec)->take_profile();
  uint64_t before = 0, after = 0;
  for (const NamedStack& s : name_stacks(p, kExitMidway, load_symbols(kExitMidway))) {
    if (s.workload_frames.empty() || s.workload_frames.front() != "truth::busy_until_exit") continue;
    EXPECT_EQ(s.comm, "exit_midway");
    before += s.samples;
  }
  for (const NamedStack& s : name_stacks(p, kSeventyThirty, load_symbols(kSeventyThirty))) {
    // Samples of the new image's start-up (the dynamic loader and libc's initialisation, called
    // from _start) have no main to reach yet.
    if (s.workload_frames.empty() || s.workload_frames == std::vector<std::string>{"_start"}) continue;
    // The same pid, now with the new program's name, maps and call chain.
    EXPECT_EQ(s.pid, w.pid());
    EXPECT_EQ(s.comm, "seventy_thirty");
    EXPECT_EQ(s.workload_frames.back(), "main");
    after += s.samples;
  }
  EXPECT_GT(before, 100u);
  EXPECT_GT(after, 300u);
}

TEST(Recorder, SeveralProcessesEndWhenAllHaveExited) {
  Workload a({kSeventyThirty, "--seconds", "1.5"});
  Workload b({kSeventyThirty, "--seconds", "2.5"});
  ASSERT_TRUE(ready(a));
  ASSERT_TRUE(ready(b));
  auto rec = Recorder::start(Target{{a.pid(), b.pid()}, false, {}}, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  EXPECT_TRUE(record_until_end(**rec, 60s));
  profile::RawProfile p = (*rec)->take_profile();
  std::map<int32_t, uint64_t> per_pid;
  p.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                       const profile::RawStackCounts& c) { per_pid[o.pid] += c.samples; });
  EXPECT_GT(per_pid[a.pid()], 100u);
  // b ran a second longer than a: the recording did not stop with the first exit.
  EXPECT_GT(per_pid[b.pid()], per_pid[a.pid()]);
}

TEST(Recorder, StopTerminatesARunningCommand) {
  Target target;
  target.command = {kSeventyThirty};  // runs until killed
  auto rec = Recorder::start(target, RecordOptions{});
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  record_samples(**rec, 200, 20s);
  EXPECT_FALSE((*rec)->command_wait_status().has_value());
  (*rec)->stop();
  ASSERT_TRUE((*rec)->command_wait_status().has_value());
  EXPECT_TRUE(WIFSIGNALED(*(*rec)->command_wait_status()));
  EXPECT_EQ(WTERMSIG(*(*rec)->command_wait_status()), SIGTERM);
  EXPECT_FALSE(*(*rec)->poll(0ms));
  EXPECT_GE((*rec)->take_profile().total_samples(), 200u);
}

TEST(Recorder, SystemWideWithProcessFilter) {
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  RecordOptions options;
  options.process_filter = [](const ProcessInfo& info) { return info.comm == "seventy_thirty"; };
  Target target;
  target.system_wide = true;
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  record_samples(**rec, 2000, 20s);
  // Another window: the recorder keeps going, modules stay shared between windows.
  profile::RawProfile first = (*rec)->take_profile();
  record_samples(**rec, (*rec)->stats().samples + 200, 20s);
  (*rec)->stop();
  profile::RawProfile second = (*rec)->take_profile();
  EXPECT_GT((*rec)->stats().filtered_samples, 0u);  // other processes (and idle CPUs) were seen
  for (const profile::RawProfile* p : {&first, &second}) {
    p->for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                          const profile::RawStackCounts&) { EXPECT_EQ(p->str(o.comm), "seventy_thirty"); });
  }
  expect_seventy_thirty(first, w.pid());
  EXPECT_LE(first.end_time_ns, second.start_time_ns);
  std::set<const profile::Module*> first_modules;
  for (size_t i = 0; i < first.module_count(); ++i) first_modules.insert(first.module_ptr(profile::ModuleId{uint32_t(i)}).get());
  bool shared = false;
  for (size_t i = 0; i < second.module_count(); ++i) {
    shared = shared || first_modules.contains(second.module_ptr(profile::ModuleId{uint32_t(i)}).get());
  }
  EXPECT_TRUE(shared);
}

TEST(Recorder, NonexistentPidIsNamed) {
  // A pid that existed a moment ago and is free now.
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);
  auto rec = Recorder::start(Target{{child}, false, {}}, RecordOptions{});
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().message(), "process " + std::to_string(child) + " does not exist");
  EXPECT_EQ(rec.error().code(), ErrorCode::kNotFound);
}

TEST(Recorder, CommandNotFound) {
  Target target;
  target.command = {"ember-no-such-command-xyz", "--flag"};
  auto rec = Recorder::start(target, RecordOptions{});
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().message(), "cannot execute 'ember-no-such-command-xyz': No such file or directory");
}

TEST(Recorder, CommandThatCannotBeExecuted) {
  // Found, but exec fails in the child: the errno comes back through the close-on-exec pipe.
  char dir[] = "/tmp/ember-noexec-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/not-a-program";
  std::ofstream(script) << "this is not a program\n";
  ::chmod(script.c_str(), 0755);
  Target target;
  target.command = {script};
  auto rec = Recorder::start(target, RecordOptions{});
  ::unlink(script.c_str());
  ::rmdir(dir);
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().message(), "cannot execute '" + script + "': Exec format error");
}

TEST(Recorder, TargetMustBeExactlyOne) {
  Target both;
  both.system_wide = true;
  both.pids = {1};
  auto rec = Recorder::start(both, RecordOptions{});
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().message(),
            "choose exactly one target: process ids (-p), the whole system (-a), or a command");
  EXPECT_FALSE(Recorder::start(Target{}, RecordOptions{}).has_value());
}

int paranoid_level() {
  std::ifstream f("/proc/sys/kernel/perf_event_paranoid");
  int v = 99;
  f >> v;
  return v;
}

TEST(RecorderPermissions, SystemWideWithoutPrivilegeExplainsParanoid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const int paranoid = paranoid_level();
  if (paranoid <= 0) GTEST_SKIP() << "perf_event_paranoid <= 0 lets every user profile system-wide";
  std::string message = testing::as_nobody([] {
    Target t;
    t.system_wide = true;
    auto rec = Recorder::start(t, RecordOptions{});
    return rec ? std::string("started") : rec.error().message();
  });
  EXPECT_EQ(message, "not permitted to profile the whole system (-a): it needs CAP_PERFMON (or root), "
                     "or kernel.perf_event_paranoid <= 0 (it is " + std::to_string(paranoid) + ")");
}

// --python-reads kernel without the privilege to load BPF: refused before anything is sampled,
// saying what is missing; the default (auto) records, reading Python stacks from user space.
TEST(RecorderPermissions, KernelPythonReadsWithoutPrivilegeSayWhatIsMissing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  std::string message = testing::as_nobody([] {
    Target t;
    t.command = {"/bin/true"};
    RecordOptions options;
    options.python.reads = PythonOptions::Reads::kKernel;
    auto rec = Recorder::start(t, options);
    if (rec) return std::string("started");
    std::string refused = rec.error().message();
    options.python.reads = PythonOptions::Reads::kAuto;
    auto fallback = Recorder::start(t, options);
    return refused + (fallback ? " | auto started" : " | auto: " + fallback.error().message());
  });
  EXPECT_EQ(message, "cannot read Python stacks in the kernel: the kernel refused the BPF program: needs CAP_BPF "
                     "and CAP_PERFMON (or root) | auto started");
}

// --sampling per-cpu without the privilege to load BPF: refused, saying what is missing; auto
// with --off-cpu records with per-thread events.
TEST(RecorderPermissions, PerCpuSamplingWithoutPrivilegeSaysWhatIsMissing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  std::string message = testing::as_nobody([] {
    Target t;
    t.command = {"/bin/true"};
    RecordOptions options;
    options.sampling = Sampling::kPerCpu;
    auto rec = Recorder::start(t, options);
    if (rec) return std::string("started");
    std::string refused = rec.error().message();
    options.sampling = Sampling::kAuto;
    options.off_cpu = true;
    auto fallback = Recorder::start(t, options);
    if (!fallback) return refused + " | auto: " + fallback.error().message();
    return refused + ((*fallback)->samples_per_cpu() ? " | auto per CPU" : " | auto per thread");
  });
  EXPECT_EQ(message, "cannot sample per CPU: the kernel refused the BPF program: needs CAP_BPF and CAP_PERFMON "
                     "(or root) | auto per thread");
}

TEST(RecorderPermissions, OtherUsersProcessExplainsParanoid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const int paranoid = paranoid_level();
  const pid_t self = ::getpid();  // a root process, out of reach for nobody
  std::string message = testing::as_nobody([self] {
    auto rec = Recorder::start(Target{{self}, false, {}}, RecordOptions{});
    return rec ? std::string("started") : rec.error().message();
  });
  EXPECT_EQ(message, "not permitted to profile process " + std::to_string(self) +
                         ": kernel.perf_event_paranoid is " + std::to_string(paranoid) +
                         "; profiling another user's process needs CAP_PERFMON (or root)");
}

// An ordinary user's locked-memory limits (kernel.perf_event_mlock_kb, RLIMIT_MEMLOCK) give
// rings of about 1 MiB instead of 8 MiB here: 30 DWARF samples. The events were opened to wake
// ember at a quarter of 8 MiB, which such a ring never reaches; ember still reads it in time
// (before, it read at its 100 ms timeouts and lost most samples).
TEST(RecorderPermissions, ShrunkRingsAreStillReadInTime) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  if (paranoid_level() > 2) GTEST_SKIP() << "kernel.perf_event_paranoid > 2: users cannot profile";
  std::string report = testing::as_nobody([] {
    Target t;
    t.command = {kSeventyThirty, "--seconds", "3"};
    RecordOptions options;
    options.kernel_frames = false;
    auto rec = Recorder::start(t, options);
    if (!rec) return rec.error().message();
    record_until_end(**rec, 60s);
    std::ostringstream out;
    for (const std::string& w : (*rec)->warnings()) out << "warning: " << w << "\n";
    const CollectorStats& stats = (*rec)->stats();
    out << "samples " << stats.samples << "\nlost " << stats.lost_samples << "\n";
    return out.str();
  });
  std::printf("[ figures  ] %s", report.c_str());
  if (report.find("perf ring buffers reduced") == std::string::npos) {
    GTEST_SKIP() << "the rings were not reduced here (locked-memory limits allow 8 MiB per CPU):\n" << report;
  }
  uint64_t samples = 0, lost = 0;
  ASSERT_EQ(std::sscanf(report.c_str() + report.rfind("\nsamples ") + 1, "samples %lu\nlost %lu", &samples, &lost), 2) << report;
  ASSERT_GT(samples, 1000u) << report;
  EXPECT_LE(lost * 10, samples) << report;
}

TEST(RecorderPermissions, KernelFramesFallBackToUserOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const int paranoid = paranoid_level();
  if (paranoid < 2 || paranoid > 2) GTEST_SKIP() << "kernel frames are refused to users only at paranoid 2";
  std::string report = testing::as_nobody([] {
    Target t;
    t.command = {kExitMidway, "--seconds", "1"};
    auto rec = Recorder::start(t, RecordOptions{});
    if (!rec) return rec.error().message();
    record_until_end(**rec, 60s);
    profile::RawProfile p = (*rec)->take_profile();
    std::ostringstream out;
    for (const std::string& w : (*rec)->warnings()) out << "warning: " << w << "\n";
    uint64_t kernel = 0, workload = 0;
    for (const NamedStack& s : name_stacks(p, kExitMidway, load_symbols(kExitMidway))) {
      if (s.has_kernel_frame) kernel += s.samples;
      if (!s.workload_frames.empty() && s.workload_frames.back() == "main") workload += s.samples;
    }
    out << "kernel " << kernel << "\nworkload " << (workload > 100 ? "many" : std::to_string(workload)) << "\n";
    return out.str();
  });
  EXPECT_NE(report.find("warning: kernel frames are not permitted (kernel.perf_event_paranoid is 2, and "
                        "ember lacks CAP_PERFMON): recording user-space frames only\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("kernel 0\n"), std::string::npos) << report;
  EXPECT_NE(report.find("workload many\n"), std::string::npos) << report;
}

}  // namespace
}  // namespace ember::collector
