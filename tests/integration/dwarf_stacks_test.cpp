// End to end through the libraries: the Recorder samples the programs of tests/fixtures/nofp
// (built like Debian's packages: -O2, no frame pointers) with DWARF call graphs, the symbolizer
// names the frames (inline frames included), and the named stacks are checked for their shape
// and proportions. The kernel's frame-pointer walk loses callers in these programs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collector/recorder.h"
#include "profile/folded.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/symbolizer.h"

namespace ember {
namespace {

using namespace std::chrono_literals;

const std::string kDir = EMBER_NOFP_DIR;
const std::string kSeventyThirty = kDir + "/nofp_70_30";
const std::string kLibs = kDir + "/nofp_libs";
const std::string kShapes = kDir + "/nofp_shapes";
const std::string kDebugFrame = kDir + "/nofp_debug_frame";
const std::string kDebuglink = kDir + "/nofp_debuglink";

// One named stack of the recording: root first, the root being "comm-PID".
struct Stack {
  std::string comm;
  int32_t pid = 0;
  std::vector<std::string> frames;  // without the root
  int64_t samples = 0;

  // The frames called from main, outermost first; nullopt when the stack does not reach main.
  std::optional<std::vector<std::string>> below_main() const {
    auto it = std::find(frames.begin(), frames.end(), "main");
    if (it == frames.end()) return std::nullopt;
    return std::vector<std::string>(it + 1, frames.end());
  }
  bool has(const std::string& f) const { return std::find(frames.begin(), frames.end(), f) != frames.end(); }
  std::string text() const {
    std::string s = comm + "-" + std::to_string(pid);
    for (const std::string& f : frames) s += ";" + f;
    return s + " " + std::to_string(samples);
  }
};

struct Recording {
  std::vector<Stack> stacks;
  collector::CollectorStats stats;
  int32_t pid = 0;  // the launched command

  int64_t total(int32_t pid_filter = 0) const {
    int64_t n = 0;
    for (const Stack& s : stacks) n += pid_filter == 0 || s.pid == pid_filter ? s.samples : 0;
    return n;
  }
  // A few stacks, for failure messages.
  std::string sample_text(size_t max = 12) const {
    std::vector<Stack> sorted = stacks;
    std::sort(sorted.begin(), sorted.end(), [](const Stack& a, const Stack& b) { return a.samples > b.samples; });
    std::string out;
    for (size_t i = 0; i < sorted.size() && i < max; ++i) out += sorted[i].text() + "\n";
    return out;
  }
};

Recording record(const std::vector<std::string>& command, collector::RecordOptions options = {}) {
  Recording out;
  collector::Target target;
  target.command = command;
  auto rec = collector::Recorder::start(target, options);
  EXPECT_TRUE(rec.has_value()) << rec.error().message();
  if (!rec) return out;
  out.pid = (*rec)->command_pid();
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto more = (*rec)->poll(100ms);
    EXPECT_TRUE(more.has_value()) << more.error().message();
    if (!more || !*more) break;
  }
  (*rec)->stop();
  profile::RawProfile raw = (*rec)->take_profile();
  out.stats = (*rec)->stats();

  // Names: once per unique address, inline frames as frames of their own.
  symbolizer::Options symbol_options;
  auto symbols = symbolizer::make_symbolizer(symbol_options);
  profile::Profile named = symbolizer::build_profile(raw, *symbols);
  profile::FoldOptions fold_options;
  fold_options.per_pid = true;
  profile::FoldedStacks folded = profile::fold(named, fold_options);
  for (const auto& s : folded.stacks) {
    if (s.frames.empty()) continue;
    Stack stack;
    const std::string root(folded.names.get(s.frames[0]));
    const size_t dash = root.rfind('-');
    stack.comm = root.substr(0, dash);
    stack.pid = dash == std::string::npos ? 0 : std::stoi(root.substr(dash + 1));
    for (size_t i = 1; i < s.frames.size(); ++i) stack.frames.emplace_back(folded.names.get(s.frames[i]));
    stack.samples = s.value;
    out.stacks.push_back(std::move(stack));
  }
  return out;
}

std::string seconds_arg(double s) { return std::to_string(s); }

double percent(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

bool starts_with(const std::vector<std::string>& v, const std::vector<std::string>& prefix) {
  return v.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), v.begin());
}

// ---------------------------------------------------------------------------------------------

TEST(DwarfStacks, SeventyThirtyReachesMainThroughTheExactChain) {
  Recording r = record({kSeventyThirty, "--seconds", seconds_arg(3)});
  // Every function of the program that can be on the stack, and its only caller.
  const std::map<std::string, std::string> caller = {
      {"truth::run", "main"},
      {"truth::Worker::step", "truth::run"},
      {"truth::Worker::compute_alpha", "truth::Worker::step"},
      {"truth::Worker::compute_beta", "truth::Worker::step"},
  };
  int64_t total = 0, exact = 0, alpha = 0, beta = 0, alpha_exact = 0, beta_exact = 0;
  std::string broken;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    bool ok = below.has_value() && !below->empty() && (*below)[0] == "truth::run";
    if (ok) {
      std::string previous = "main";
      for (const std::string& f : *below) {
        auto it = caller.find(f);
        if (it != caller.end() && it->second != previous) ok = false;
        previous = f;
      }
    }
    if (ok) exact += s.samples;
    if (!ok && broken.size() < 3000) broken += s.text() + "\n";
    const std::vector<std::string> alpha_chain = {"truth::run", "truth::Worker::step", "truth::Worker::compute_alpha"};
    const std::vector<std::string> beta_chain = {"truth::run", "truth::Worker::step", "truth::Worker::compute_beta"};
    if (s.has("truth::Worker::compute_alpha")) {
      alpha += s.samples;
      if (below && starts_with(*below, alpha_chain)) alpha_exact += s.samples;
    }
    if (s.has("truth::Worker::compute_beta")) {
      beta += s.samples;
      if (below && starts_with(*below, beta_chain)) beta_exact += s.samples;
    }
  }
  ASSERT_GT(total, 500) << r.sample_text();
  std::printf("[ figures  ] %lld samples; exact chain to main %.2f%%; alpha %.2f%% beta %.2f%%; "
              "unwinds to root %.2f%%\n",
              static_cast<long long>(total), percent(exact, total), percent(alpha, alpha + beta),
              percent(beta, alpha + beta),
              percent(static_cast<int64_t>(r.stats.dwarf_to_root), static_cast<int64_t>(r.stats.dwarf_unwinds)));
  // The leaf's caller (truth::Worker::step) is what frame pointers lose in this program.
  EXPECT_GE(percent(exact, total), 99.0) << "stacks that do not reach main through the chain:\n" << broken;
  EXPECT_GE(percent(alpha_exact, alpha), 99.0);
  EXPECT_GE(percent(beta_exact, beta), 99.0);
  EXPECT_GT(alpha + beta, total * 8 / 10) << r.sample_text();
  EXPECT_NEAR(percent(alpha, alpha + beta), 70.0, 5.0) << "alpha " << alpha << " beta " << beta;
  EXPECT_NEAR(percent(beta, alpha + beta), 30.0, 5.0);
  // The unwinder's own account: nearly every unwind ends at a root (_start's CFI).
  EXPECT_GE(percent(static_cast<int64_t>(r.stats.dwarf_to_root), static_cast<int64_t>(r.stats.dwarf_unwinds)), 99.0)
      << "stack end " << r.stats.dwarf_stack_end << ", no CFI " << r.stats.dwarf_no_cfi << ", bad memory "
      << r.stats.dwarf_bad_memory << ", bad frame " << r.stats.dwarf_bad_frame;
}

TEST(DwarfStacks, SharedLibraryAndDlopenedFunctionsAppearUnderTheirCallers) {
  Recording r = record({kLibs, "--seconds", seconds_arg(2.5)});
  const std::vector<std::string> shared = {"run_shared", "shared_entry", "shared_leaf"};
  const std::vector<std::string> plugin = {"run_plugin", "plugin_entry", "plugin_leaf"};
  int64_t total = 0, in_shared = 0, shared_exact = 0, in_plugin = 0, plugin_exact = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    if (s.has("shared_leaf")) {
      in_shared += s.samples;
      if (below && starts_with(*below, shared)) shared_exact += s.samples;
    }
    if (s.has("plugin_leaf")) {
      in_plugin += s.samples;
      if (below && starts_with(*below, plugin)) plugin_exact += s.samples;
    }
  }
  ASSERT_GT(total, 400) << r.sample_text();
  std::printf("[ figures  ] %lld samples; shared %.1f%% (exact %.2f%%), dlopen'd %.1f%% (exact %.2f%%)\n",
              static_cast<long long>(total), percent(in_shared, total), percent(shared_exact, in_shared),
              percent(in_plugin, total), percent(plugin_exact, in_plugin));
  EXPECT_GT(percent(in_shared, total), 30.0) << r.sample_text();
  EXPECT_GT(percent(in_plugin, total), 30.0) << r.sample_text();
  EXPECT_GE(percent(shared_exact, in_shared), 99.0) << r.sample_text();
  EXPECT_GE(percent(plugin_exact, in_plugin), 99.0) << r.sample_text();
}

TEST(DwarfStacks, AnAlwaysInlinedFunctionIsAFrameOfItsOwn) {
  Recording r = record({kShapes, "inline", "--seconds", seconds_arg(2)});
  int64_t total = 0, inlined = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    if (below && starts_with(*below, {"shapes::run_inline", "shapes::crunch"})) inlined += s.samples;
  }
  ASSERT_GT(total, 300) << r.sample_text();
  // All the program's work is in crunch; the rest reads the clock.
  EXPECT_GT(percent(inlined, total), 90.0) << r.sample_text();
}

// main -> run_deep -> recurse x 45 (depth 44..0) -> bottom
int64_t deep_stacks_reaching_main(const Recording& r, int64_t* total_out) {
  int64_t total = 0, complete = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    if (!below || below->empty() || (*below)[0] != "shapes::run_deep") continue;
    const auto recursions = std::count(below->begin(), below->end(), "shapes::recurse");
    if (recursions == 45 && below->size() >= 47 && (*below)[46] == "shapes::bottom") complete += s.samples;
  }
  *total_out = total;
  return complete;
}

TEST(DwarfStacks, ADeepRecursionWithBigFramesReachesMainWithA32KiBCopy) {
  Recording r = record({kShapes, "deep", "--seconds", seconds_arg(2), "--depth", "44"});
  int64_t total = 0;
  const int64_t complete = deep_stacks_reaching_main(r, &total);
  ASSERT_GT(total, 300) << r.sample_text();
  std::printf("[ figures  ] 32 KiB copy: %lld samples, %.2f%% reach main through all 45 frames\n",
              static_cast<long long>(total), percent(complete, total));
  EXPECT_GE(percent(complete, total), 99.0) << r.sample_text(4);
  EXPECT_LT(r.stats.dwarf_stack_end, r.stats.dwarf_unwinds / 100 + 1);
}

TEST(DwarfStacks, AnEightKiBCopyCannotUnwindTheDeepRecursionAndSaysSo) {
  collector::RecordOptions options;
  options.stack_size = 8192;  // perf's default
  Recording r = record({kShapes, "deep", "--seconds", seconds_arg(1.5), "--depth", "44"}, options);
  int64_t total = 0;
  const int64_t complete = deep_stacks_reaching_main(r, &total);
  ASSERT_GT(total, 200) << r.sample_text();
  std::printf("[ figures  ] 8 KiB copy: %lld samples, %.2f%% reach main; %.2f%% of unwinds stop at the copy's end\n",
              static_cast<long long>(total), percent(complete, total),
              percent(static_cast<int64_t>(r.stats.dwarf_stack_end), static_cast<int64_t>(r.stats.dwarf_unwinds)));
  EXPECT_EQ(complete, 0) << r.sample_text(4);
  // The copy ended: counted as such, not as a bad unwind.
  EXPECT_GE(percent(static_cast<int64_t>(r.stats.dwarf_stack_end), static_cast<int64_t>(r.stats.dwarf_unwinds)), 90.0);
}

TEST(DwarfStacks, ThreadsUnwindToTheirStart) {
  Recording r = record({kShapes, "threads", "--seconds", seconds_arg(2)});
  int64_t in_threads = 0, exact = 0;
  std::string broken;
  for (const Stack& s : r.stacks) {
    if (!s.has("shapes::thread_work")) continue;
    in_threads += s.samples;
    // libc's thread start (start_thread, clone3) above thread_body, thread_work right below it.
    auto body = std::find(s.frames.begin(), s.frames.end(), "shapes::thread_body");
    if (body != s.frames.begin() && body != s.frames.end() && body + 1 != s.frames.end() &&
        *(body + 1) == "shapes::thread_work" && !s.has("main")) {
      exact += s.samples;
    } else if (broken.size() < 2000) {
      broken += s.text() + "\n";
    }
  }
  ASSERT_GT(in_threads, 300) << r.sample_text();
  EXPECT_GE(percent(exact, in_threads), 99.0) << broken;
  EXPECT_GE(percent(static_cast<int64_t>(r.stats.dwarf_to_root), static_cast<int64_t>(r.stats.dwarf_unwinds)), 99.0);
}

TEST(DwarfStacks, AfterExecTheNewProgramsFramesAreNamed) {
  Recording r = record({kShapes, "exec", "--seconds", seconds_arg(0.7), kSeventyThirty, "--seconds", seconds_arg(1.5)});
  int64_t before = 0, before_exact = 0, after = 0, after_exact = 0;
  int32_t child = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid == r.pid) continue;  // the parent only waits
    auto below = s.below_main();
    if (s.has("shapes::child_before_exec")) {
      before += s.samples;
      child = s.pid;
      if (below && starts_with(*below, {"shapes::run_exec", "shapes::child_before_exec"})) before_exact += s.samples;
      EXPECT_EQ(s.comm, "nofp_shapes");
    }
    if (s.comm == "nofp_70_30") {
      after += s.samples;
      if (below && starts_with(*below, {"truth::run", "truth::Worker::step"})) after_exact += s.samples;
    }
  }
  ASSERT_GT(before, 100) << r.sample_text();
  ASSERT_GT(after, 300) << r.sample_text();
  EXPECT_GE(percent(before_exact, before), 99.0) << r.sample_text();
  EXPECT_GE(percent(after_exact, after), 95.0) << r.sample_text();
  for (const Stack& s : r.stacks) {
    if (s.comm == "nofp_70_30") {
      EXPECT_EQ(s.pid, child) << "the exec'd program runs in the forked child";
    }
  }
}

TEST(DwarfStacks, AStrippedBinarysFunctionsAreNamedThroughItsDebuglink) {
  Recording r = record({kDebuglink, "--seconds", seconds_arg(2)});
  int64_t total = 0, exact = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    if (below && starts_with(*below, {"dl_middle", "dl_leaf"})) exact += s.samples;
  }
  ASSERT_GT(total, 300) << r.sample_text();
  EXPECT_GT(percent(exact, total), 95.0) << r.sample_text();
}

TEST(DwarfStacks, DebugFrameOnlyCodeIsUnwound) {
  Recording r = record({kDebugFrame, "--seconds", seconds_arg(2)});
  int64_t total = 0, exact = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    auto below = s.below_main();
    if (below && starts_with(*below, {"df_outer", "df_middle", "df_leaf"})) exact += s.samples;
  }
  ASSERT_GT(total, 300) << r.sample_text();
  EXPECT_GT(percent(exact, total), 95.0) << r.sample_text();
}

TEST(DwarfStacks, JitCodeIsNamedFromThePerfMapAndUnwoundByItsFramePointer) {
  Recording r = record({kShapes, "jit", "--seconds", seconds_arg(2)});
  int64_t total = 0, jit = 0, jit_exact = 0;
  for (const Stack& s : r.stacks) {
    if (s.pid != r.pid) continue;
    total += s.samples;
    if (s.frames.empty() || s.frames.back() != "jit_hot_loop_[j]") continue;
    jit += s.samples;
    auto below = s.below_main();
    if (below && *below == std::vector<std::string>{"shapes::jit", "shapes::run_jit", "jit_hot_loop_[j]"}) {
      jit_exact += s.samples;
    }
  }
  std::remove(("/tmp/perf-" + std::to_string(r.pid) + ".map").c_str());
  ASSERT_GT(total, 300) << r.sample_text();
  EXPECT_GT(percent(jit, total), 80.0) << r.sample_text();
  // A sample on the two instructions before the frame exists, or on the last two, misses the
  // caller: a few percent at most of a loop this long.
  EXPECT_GT(percent(jit_exact, jit), 95.0) << r.sample_text();
  EXPECT_GT(r.stats.dwarf_frame_pointer_steps, static_cast<uint64_t>(jit) * 9 / 10);
}

}  // namespace
}  // namespace ember
