// Python frames end to end, with real interpreters: the Recorder samples the programs in
// tests/integration/python (launched, or attached to by pid), reads their Python stacks, merges
// them with the native stacks, and the symbolizer and fold name them. Checked: the known call
// tree and its 70/30 split, deep recursion, a C library under its Python caller, threads, -X perf
// trampolines, and every installed CPython 3.8-3.13 (absent ones are skipped by name).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/recorder.h"
#include "profile/folded.h"
#include "python/kernel_reader.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/symbolizer.h"
#include "tests/integration/python_interpreters.h"
#include "tests/support/process.h"

namespace ember {
namespace {

using namespace std::chrono_literals;
using testing::kDebianPython;
using testing::kPrograms;

const std::string kSeventyThirty = kPrograms + "/seventy_thirty.py";
const std::string kRecursion = kPrograms + "/recursion.py";
const std::string kZlib = kPrograms + "/zlib_work.py";
const std::string kThreads = kPrograms + "/threads.py";

using testing::Interpreter;
using testing::interpreters;
#define REQUIRE_INTERPRETER(path)                                                    \
  if (::access((path).c_str(), X_OK) != 0) {                                         \
    GTEST_SKIP() << (path) << " is not installed on this machine";                   \
  }

// One named stack: root "comm-PID", then "thread-TID", then the frames.
struct Stack {
  int32_t pid = 0;
  int32_t tid = 0;
  std::vector<std::string> frames;  // root first, without process and thread
  int64_t samples = 0;

  // The Python functions of the stack, root first, without "(file:line)".
  std::vector<std::string> python() const {
    std::vector<std::string> out;
    for (const std::string& f : frames) {
      if (profile::frame_kind(f) == profile::MappingKind::kPython) out.push_back(f.substr(0, f.rfind(" (")));
    }
    return out;
  }
  bool has(std::string_view name) const {
    return std::any_of(frames.begin(), frames.end(), [&](const std::string& f) { return f == name; });
  }
  std::string text() const {
    std::string s = std::to_string(pid) + "/" + std::to_string(tid);
    for (const std::string& f : frames) s += ";" + f;
    return s + " " + std::to_string(samples);
  }
};

struct Recording {
  std::vector<Stack> stacks;
  collector::CollectorStats stats;
  int32_t pid = 0;

  int64_t total() const {
    int64_t n = 0;
    for (const Stack& s : stacks) n += s.pid == pid ? s.samples : 0;
    return n;
  }
  std::string sample_text(size_t max = 15) const {
    std::vector<Stack> sorted = stacks;
    std::sort(sorted.begin(), sorted.end(), [](const Stack& a, const Stack& b) { return a.samples > b.samples; });
    std::string out;
    for (size_t i = 0; i < sorted.size() && i < max; ++i) out += sorted[i].text() + "\n";
    return out;
  }
  std::string python_summary() const {
    const collector::CollectorStats& p = stats;
    return "merged " + std::to_string(p.python_merged) + ", below cut " + std::to_string(p.python_merged_below_cut) +
           ", stale fewer/more " + std::to_string(p.python_stale_fewer) + "/" + std::to_string(p.python_stale_more) +
           ", no eval " + std::to_string(p.python_no_eval_frames) + ", not in Python " + std::to_string(p.python_not_in_python) +
           ", missed " + std::to_string(p.python_read_missed) + " (gone " + std::to_string(p.python_miss_process_gone) +
           ", failed " + std::to_string(p.python_miss_read_failed) + ", bad " + std::to_string(p.python_miss_bad_object) +
           ", long " + std::to_string(p.python_miss_chain_too_long) + ", changing " + std::to_string(p.python_miss_stack_changed) +
           "), not read " + std::to_string(p.python_not_read);
  }
};

Recording collect(collector::Recorder& rec, std::optional<std::chrono::seconds> duration) {
  Recording out;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + (duration ? *duration : 120s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto more = rec.poll(100ms);
    EXPECT_TRUE(more.has_value()) << more.error().message();
    if (!more || !*more) break;
  }
  rec.stop();
  profile::RawProfile raw = rec.take_profile();
  out.stats = rec.stats();
  auto symbols = symbolizer::make_symbolizer(symbolizer::Options{});
  profile::Profile named = symbolizer::build_profile(raw, *symbols);
  profile::FoldOptions fold_options;
  fold_options.per_pid = true;
  fold_options.per_thread = true;
  profile::FoldedStacks folded = profile::fold(named, fold_options);
  for (const auto& s : folded.stacks) {
    if (s.frames.size() < 2) continue;
    Stack stack;
    const std::string root(folded.names.get(s.frames[0]));
    const std::string thread(folded.names.get(s.frames[1]));
    stack.pid = std::stoi(root.substr(root.rfind('-') + 1));
    stack.tid = std::stoi(thread.substr(thread.rfind('-') + 1));
    for (size_t i = 2; i < s.frames.size(); ++i) stack.frames.emplace_back(folded.names.get(s.frames[i]));
    stack.samples = s.value;
    out.stacks.push_back(std::move(stack));
  }
  return out;
}

Recording launch(const std::vector<std::string>& command, collector::RecordOptions options = {}) {
  collector::Target target;
  target.command = command;
  auto rec = collector::Recorder::start(target, options);
  EXPECT_TRUE(rec.has_value()) << rec.error().message();
  if (!rec) return {};
  int32_t pid = (*rec)->command_pid();
  Recording r = collect(**rec, std::nullopt);
  r.pid = pid;
  return r;
}

Recording attach(int32_t pid, std::chrono::seconds duration, collector::RecordOptions options = {}) {
  collector::Target target;
  target.pids = {pid};
  auto rec = collector::Recorder::start(target, options);
  EXPECT_TRUE(rec.has_value()) << rec.error().message();
  if (!rec) return {};
  Recording r = collect(**rec, duration);
  r.pid = pid;
  return r;
}

double percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

const std::vector<std::string> kAlphaChain = {"<module>", "main", "run", "step", "alpha"};
const std::vector<std::string> kBetaChain = {"<module>", "main", "run", "step", "beta"};

// The 70/30 program as every recording of it must show it: Python frames with their files and
// lines, the exact Python chain from the module's code down, and the split within 5 points.
void expect_seventy_thirty(const Recording& r, const std::string& label) {
  int64_t total = r.total(), alpha = 0, beta = 0, alpha_chain = 0, beta_chain = 0, eval_left = 0;
  std::string broken;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    const auto py = s.python();
    const bool in_alpha = std::find(py.begin(), py.end(), "alpha") != py.end();
    const bool in_beta = std::find(py.begin(), py.end(), "beta") != py.end();
    alpha += in_alpha ? s.samples : 0;
    beta += in_beta ? s.samples : 0;
    if (in_alpha && py == kAlphaChain) alpha_chain += s.samples;
    if (in_beta && py == kBetaChain) beta_chain += s.samples;
    if ((in_alpha && py != kAlphaChain) || (in_beta && py != kBetaChain)) {
      if (broken.size() < 3000) broken += s.text() + "\n";
    }
    if (s.has("_PyEval_EvalFrameDefault")) eval_left += s.samples;
    for (const std::string& f : s.frames) {
      if (f.starts_with("alpha (")) {
        EXPECT_TRUE(f.starts_with("alpha (seventy_thirty.py:1")) << f;  // lines 14-18
      }
    }
  }
  std::printf("[ figures  ] %s: %lld samples; alpha %.1f%% beta %.1f%% of %lld in alpha/beta; exact Python "
              "chain %.1f%%; eval-loop frames left in %.1f%%; %s\n",
              label.c_str(), static_cast<long long>(total), percent(alpha, alpha + beta), percent(beta, alpha + beta),
              static_cast<long long>(alpha + beta), percent(alpha_chain + beta_chain, alpha + beta),
              percent(eval_left, total), r.python_summary().c_str());
  ASSERT_GT(total, 800) << "too few samples to judge shares\n" << r.sample_text();
  ASSERT_GT(alpha + beta, total * 7 / 10) << r.python_summary() << "\n" << r.sample_text();
  EXPECT_NEAR(percent(alpha, alpha + beta), 70.0, 5.0) << "alpha " << alpha << " beta " << beta;
  EXPECT_GE(percent(alpha_chain + beta_chain, alpha + beta), 95.0) << "stacks off the known chain:\n" << broken;
  // Hardly any eval-loop frame stays native (those are samples whose read disagreed).
  EXPECT_LE(percent(eval_left, total), 5.0) << r.python_summary() << "\n" << r.sample_text();
  EXPECT_EQ(r.stats.python_attached, 1u);
}

class PythonVersions : public ::testing::TestWithParam<Interpreter> {};

TEST_P(PythonVersions, SeventyThirtyByLaunch) {
  REQUIRE_INTERPRETER(GetParam().path);
  Recording r = launch({GetParam().path, kSeventyThirty, "3"});
  expect_seventy_thirty(r, GetParam().name + " launched");
}

TEST_P(PythonVersions, FortyFiveLevelsOfRecursionReachTheModule) {
  REQUIRE_INTERPRETER(GetParam().path);
  Recording r = launch({GetParam().path, kRecursion, "3"});
  std::vector<std::string> expected = {"<module>", "main"};
  for (int i = 0; i < 45; ++i) expected.push_back("descend");
  expected.push_back("leaf");
  int64_t in_leaf = 0, exact = 0;
  std::string broken;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    auto py = s.python();
    if (std::find(py.begin(), py.end(), "leaf") == py.end()) continue;
    in_leaf += s.samples;
    if (py == expected) {
      exact += s.samples;
    } else if (broken.size() < 4000) {
      broken += std::to_string(py.size()) + " Python frames: " + s.text() + "\n";
    }
  }
  std::printf("[ figures  ] %s: %lld samples in leaf, %.1f%% with all 45 levels to <module>; %s\n",
              GetParam().name.c_str(), static_cast<long long>(in_leaf), percent(exact, in_leaf),
              r.python_summary().c_str());
  ASSERT_GT(in_leaf, r.total() / 2) << r.python_summary() << "\n" << r.sample_text(5);
  EXPECT_GE(percent(exact, in_leaf), 95.0) << broken;
}

// The user-space reader stays right on every version: it is what a machine without BPF uses.
TEST_P(PythonVersions, SeventyThirtyFromUserSpace) {
  collector::RecordOptions options;
  options.python.reads = collector::PythonOptions::Reads::kUser;
  Recording r = launch({GetParam().path, kSeventyThirty, "3"}, options);
  EXPECT_EQ(r.stats.python_kernel_reads, 0u);
  expect_seventy_thirty(r, GetParam().name + " read from user space");
}

INSTANTIATE_TEST_SUITE_P(Installed, PythonVersions, ::testing::ValuesIn(interpreters()),
                         [](const auto& info) { return info.param.name; });

TEST(PythonStacks, SeventyThirtyByAttach) {
  REQUIRE_INTERPRETER(kDebianPython);
  testing::Background program({kDebianPython, kSeventyThirty, "30"});
  ASSERT_EQ(program.read_line(), "ready");
  Recording r = attach(program.pid(), 4s);
  expect_seventy_thirty(r, "python3.11 attached");
}

// A command that becomes CPython only later (a shell that execs it) had its events opened
// without a wake-up per sample; the poller then reads the rings every millisecond, and the
// stacks are as right as when CPython is launched directly.
TEST(PythonStacks, SeventyThirtyWhenAShellExecsCPython) {
  REQUIRE_INTERPRETER(kDebianPython);
  Recording r = launch({"/bin/sh", "-c", "exec " + kDebianPython + " " + kSeventyThirty + " 3"});
  expect_seventy_thirty(r, "python3.11 exec'd by sh");
}

// Read from user space, a process that runs CPython wakes the poller at (nearly) every sample,
// so that its stacks are read while the thread still runs them.
TEST(PythonStacks, UserSpaceReadsWakeThePollerPerSample) {
  REQUIRE_INTERPRETER(kDebianPython);
  collector::RecordOptions options;
  options.python.reads = collector::PythonOptions::Reads::kUser;
  Recording r = launch({kDebianPython, kSeventyThirty, "3"}, options);
  std::printf("[ figures  ] %llu samples, %llu ring wake-ups\n", static_cast<unsigned long long>(r.stats.samples),
              static_cast<unsigned long long>(r.stats.ring_wakeups));
  ASSERT_GT(r.stats.samples, 1000u);
  EXPECT_EQ(r.stats.python_kernel_reads, 0u);
  // Samples that come while the poller works are read in the same round: not one wake-up each
  // on a busy machine, but far more than a quarter ring's one per ~60 samples.
  EXPECT_GE(r.stats.ring_wakeups * 16, r.stats.samples);
  expect_seventy_thirty(r, "python3.11 read from user space");
}

// Read in the kernel at each sample, Python stacks need no wake-up per sample: the poller wakes
// at a quarter of the ring as for a program without Python.
TEST(PythonStacks, KernelReadsNeedNoWakeUpPerSample) {
  REQUIRE_INTERPRETER(kDebianPython);
  if (auto kernel = python::KernelReader::load(); !kernel) {
    GTEST_SKIP() << "the kernel-side Python reader cannot run here: " << kernel.error().message();
  }
  collector::RecordOptions options;
  options.python.reads = collector::PythonOptions::Reads::kKernel;
  Recording r = launch({kDebianPython, kSeventyThirty, "3"}, options);
  std::printf("[ figures  ] %llu samples, %llu ring wake-ups, %llu read in the kernel, %llu from user space\n",
              static_cast<unsigned long long>(r.stats.samples), static_cast<unsigned long long>(r.stats.ring_wakeups),
              static_cast<unsigned long long>(r.stats.python_kernel_reads),
              static_cast<unsigned long long>(r.stats.python_kernel_fallbacks));
  ASSERT_GT(r.stats.samples, 1000u);
  // The samples before the interpreter was attached (the first round) are read from user space.
  EXPECT_GE(r.stats.python_kernel_reads * 10, r.stats.samples * 9);
  EXPECT_LT(r.stats.ring_wakeups * 16, r.stats.samples);
  expect_seventy_thirty(r, "python3.11 read in the kernel");
}

TEST(PythonStacks, ZlibDeflateUnderItsPythonCaller) {
  REQUIRE_INTERPRETER(kDebianPython);
  Recording r = launch({kDebianPython, kZlib, "3"});
  int64_t in_deflate = 0, under_handle = 0;
  std::string broken;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    auto it = std::find(s.frames.begin(), s.frames.end(), "deflate");
    if (it == s.frames.end()) continue;
    in_deflate += s.samples;
    // The nearest Python frame above deflate is handle, called by main from the module.
    auto python_caller = std::find_if(std::make_reverse_iterator(it), s.frames.rend(), [](const std::string& f) {
      return profile::frame_kind(f) == profile::MappingKind::kPython;
    });
    if (python_caller != s.frames.rend() && python_caller->starts_with("handle (zlib_work.py:") &&
        s.python() == std::vector<std::string>{"<module>", "main", "handle"}) {
      under_handle += s.samples;
    } else if (broken.size() < 3000) {
      broken += s.text() + "\n";
    }
  }
  std::printf("[ figures  ] zlib: %lld of %lld samples in deflate, %.1f%% of them under handle; %s\n",
              static_cast<long long>(in_deflate), static_cast<long long>(r.total()), percent(under_handle, in_deflate),
              r.python_summary().c_str());
  ASSERT_GT(in_deflate, r.total() / 2) << r.sample_text();
  EXPECT_GE(percent(under_handle, in_deflate), 95.0) << broken;
}

TEST(PythonStacks, EachThreadHasItsOwnStack) {
  REQUIRE_INTERPRETER(kDebianPython);
  Recording r = launch({kDebianPython, kThreads, "3"});
  // Per thread: samples in each worker function.
  std::map<int32_t, std::map<std::string, int64_t>> by_thread;
  int64_t in_workers = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    auto py = s.python();
    for (const char* worker : {"work_red", "work_green", "work_blue"}) {
      if (std::find(py.begin(), py.end(), worker) == py.end()) continue;
      by_thread[s.tid][worker] += s.samples;
      in_workers += s.samples;
      // The thread's chain: started by threading's bootstrap, the worker, then spin.
      EXPECT_EQ(py.front(), "Thread._bootstrap") << s.text();
      EXPECT_EQ(py.back() == "spin" || py.back() == worker, true) << s.text();
    }
  }
  std::set<std::string> workers_seen;
  for (const auto& [tid, workers] : by_thread) {
    int64_t total = 0, top = 0;
    std::string top_name;
    for (const auto& [name, n] : workers) {
      total += n;
      if (n > top) top = n, top_name = name;
    }
    // A thread runs one worker: every sample of it shows that worker only.
    EXPECT_EQ(workers.size(), 1u) << "thread " << tid << " shows " << workers.size() << " workers";
    EXPECT_TRUE(workers_seen.insert(top_name).second) << top_name << " on two threads";
    std::printf("[ figures  ] thread %d: %s %lld samples\n", tid, top_name.c_str(), static_cast<long long>(total));
  }
  EXPECT_EQ(workers_seen.size(), 3u) << r.sample_text();
  EXPECT_GT(in_workers, r.total() / 2) << r.python_summary();
}

// 3.12+: -X perf routes every Python call through a trampoline in anonymous memory that has no
// CFI and keeps no frame pointer; the unwinder steps over it and the merge drops it.
class PerfTrampolines : public ::testing::TestWithParam<Interpreter> {};

TEST_P(PerfTrampolines, StacksAreCompleteAndMerged) {
  REQUIRE_INTERPRETER(GetParam().path);
  Recording r = launch({GetParam().path, "-X", "perf", kSeventyThirty, "3"});
  expect_seventy_thirty(r, GetParam().name + " -X perf");
  const auto& s = r.stats;
  std::printf("[ figures  ] %s -X perf: unwinds to root %.1f%%, trampolines stepped %llu, merged away %llu\n",
              GetParam().name.c_str(), percent(static_cast<int64_t>(s.dwarf_to_root), static_cast<int64_t>(s.dwarf_unwinds)),
              static_cast<unsigned long long>(s.dwarf_shim_steps),
              static_cast<unsigned long long>(s.python_trampolines));
  EXPECT_GE(percent(static_cast<int64_t>(s.dwarf_to_root), static_cast<int64_t>(s.dwarf_unwinds)), 95.0)
      << "no CFI " << s.dwarf_no_cfi << ", stack end " << s.dwarf_stack_end << ", bad frame " << s.dwarf_bad_frame;
  EXPECT_GT(s.dwarf_shim_steps, 0u);
  EXPECT_GT(s.python_trampolines, 0u);
  // Trampolines stay only next to eval-loop frames left native (samples whose Python read
  // disagreed with the native stack, counted as stale).
  int64_t with_trampolines = 0;
  for (const Stack& st : r.stacks) {
    if (std::any_of(st.frames.begin(), st.frames.end(), [](const std::string& f) { return f.starts_with("py::"); })) {
      with_trampolines += st.samples;
    }
  }
  EXPECT_LE(percent(with_trampolines, r.total()), 5.0) << r.sample_text();
}

TEST_P(PerfTrampolines, WithoutPythonFramesTheTrampolinesStillUnwind) {
  REQUIRE_INTERPRETER(GetParam().path);
  collector::RecordOptions options;
  options.python.enabled = false;
  Recording r = launch({GetParam().path, "-X", "perf", kSeventyThirty, "3"}, options);
  const auto& s = r.stats;
  EXPECT_GE(percent(static_cast<int64_t>(s.dwarf_to_root), static_cast<int64_t>(s.dwarf_unwinds)), 95.0);
  // The perf map names the trampolines: the Python functions appear as py:: frames.
  int64_t alpha = 0;
  for (const Stack& st : r.stacks) {
    if (st.pid == r.pid && std::any_of(st.frames.begin(), st.frames.end(), [](const std::string& f) {
          return f.starts_with("py::alpha:") && f.ends_with("_[j]");
        })) {
      alpha += st.samples;
    }
  }
  EXPECT_GT(alpha, r.total() / 3) << r.sample_text();
  EXPECT_EQ(s.python_attached, 0u);
}

std::vector<Interpreter> perf_interpreters() {
  std::vector<Interpreter> out;
  for (const Interpreter& i : interpreters()) {
    if (i.name == "pyenv_3_12_1" || i.name == "pyenv_3_13_0") out.push_back(i);
  }
  return out;
}
INSTANTIATE_TEST_SUITE_P(Installed, PerfTrampolines, ::testing::ValuesIn(perf_interpreters()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ember
