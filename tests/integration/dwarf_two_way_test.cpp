// The two DWARF engines on the same samples: every sample of a real process (the 45-deep
// recursion, the 70/30 program, a signal handler and JIT code of tests/fixtures/nofp, xz, python3,
// python3.12 -X perf) is captured once with registers and a 32 KiB stack copy, then unwound by the
// compiled CFI rows and by libunwind alone. They must give the same frames, sample by sample, and
// end the same way; the share of frames the compiled engine handed to libunwind is printed.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "collector/dwarf_unwinder.h"
#include "collector/module_cache.h"
#include "collector/process_table.h"
#include "collector/sample_capture.h"
#include "tests/support/process.h"

namespace ember::collector {
namespace {

using namespace std::chrono_literals;

const std::string kDir = EMBER_NOFP_DIR;

struct TwoWay {
  size_t samples = 0;
  size_t differing = 0;
  std::string first_difference;
  CollectorStats compiled, libunwind;

  double libunwind_share() const {
    const double all = static_cast<double>(compiled.dwarf_compiled_frames + compiled.dwarf_libunwind_frames);
    return all == 0 ? 0 : 100.0 * static_cast<double>(compiled.dwarf_libunwind_frames) / all;
  }
};

std::string frames_text(const std::vector<UnwoundFrame>& frames) {
  std::string s;
  for (const UnwoundFrame& f : frames) s += fmt::format(" {:#x}{}", f.address.value(), f.interrupted ? "*" : "");
  return s;
}

std::unique_ptr<DwarfUnwinder> make_unwinder(DwarfEngine engine) {
  DwarfUnwinderOptions o;
  o.engine = engine;
  auto u = DwarfUnwinder::create(o);
  EXPECT_TRUE(u.has_value()) << u.error().message();
  return u ? std::move(*u) : nullptr;
}

// Starts argv, lets it get past the dynamic loader, captures `seconds` of samples and unwinds
// each both ways.
TwoWay unwind_both_ways(const std::vector<std::string>& argv, double seconds) {
  TwoWay out;
  testing::Background program(argv);
  std::this_thread::sleep_for(400ms);  // past ld.so and imports: the maps are final
  ModuleCache modules(ProcFs(), 256);
  ProcessTable table(ProcFs(), modules, 16);
  const Process* process = table.load(program.pid());
  EXPECT_NE(process, nullptr);
  auto compiled = make_unwinder(DwarfEngine::kCompiled);
  auto reference = make_unwinder(DwarfEngine::kLibunwind);
  if (process == nullptr || !compiled || !reference) return out;
  auto captured = capture_samples(program.pid(), 999, compiled->needs(), seconds);
  EXPECT_TRUE(captured.has_value()) << captured.error().message();
  if (!captured) return out;
  std::vector<UnwoundFrame> a, b;
  for (const auto& bytes : captured->records) {
    auto record = decode_record(bytes, captured->format);
    if (!record) continue;
    const auto* s = std::get_if<SampleRecord>(&record->body);
    if (s == nullptr || s->sid.pid != program.pid() || s->mode != CpuMode::kUser) continue;
    const SampleContext ctx = user_sample_context(*s, captured->format, process);
    a.clear();
    b.clear();
    compiled->unwind_user(ctx, a);
    reference->unwind_user(ctx, b);
    out.samples++;
    const bool same = a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
                        return x.address == y.address && x.interrupted == y.interrupted;
                      });
    if (!same && out.differing++ == 0) {
      out.first_difference = "compiled:" + frames_text(a) + "\nlibunwind:" + frames_text(b);
    }
  }
  compiled->add_stats(out.compiled);
  reference->add_stats(out.libunwind);
  return out;
}

void expect_same_endings(const TwoWay& r) {
  const CollectorStats& c = r.compiled;
  const CollectorStats& l = r.libunwind;
  EXPECT_EQ(c.dwarf_to_root, l.dwarf_to_root);
  EXPECT_EQ(c.dwarf_stack_end, l.dwarf_stack_end);
  EXPECT_EQ(c.dwarf_no_cfi, l.dwarf_no_cfi);
  EXPECT_EQ(c.dwarf_bad_memory, l.dwarf_bad_memory);
  EXPECT_EQ(c.dwarf_bad_frame, l.dwarf_bad_frame);
  EXPECT_EQ(c.dwarf_frame_pointer_steps, l.dwarf_frame_pointer_steps);
  EXPECT_EQ(l.dwarf_compiled_frames + l.dwarf_libunwind_frames, 0u);  // the reference engine is libunwind's
  EXPECT_GT(c.dwarf_compiled_frames, 0u);
}

void print_figures(const char* what, const TwoWay& r) {
  std::printf("[ figures  ] %s: %zu samples, %zu differ; frames compiled %llu, libunwind %llu (%.3f%%); "
              "to root %llu\n",
              what, r.samples, r.differing, static_cast<unsigned long long>(r.compiled.dwarf_compiled_frames),
              static_cast<unsigned long long>(r.compiled.dwarf_libunwind_frames), r.libunwind_share(),
              static_cast<unsigned long long>(r.compiled.dwarf_to_root));
}

// Samples enough to cover the programs' stacks even on a loaded machine.
constexpr double kCaptureSeconds = 2.5;
constexpr size_t kMinSamples = 100;

TEST(DwarfTwoWay, TheDeepRecursionUnwindsTheSameBothWays) {
  TwoWay r = unwind_both_ways({kDir + "/nofp_shapes", "deep", "--seconds", "8", "--depth", "44"}, kCaptureSeconds);
  print_figures("45-deep recursion", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
  // -O2 C++ without frame pointers: every rule is in the compact form.
  EXPECT_EQ(r.compiled.dwarf_libunwind_frames, 0u);
}

TEST(DwarfTwoWay, TheSeventyThirtyProgramUnwindsTheSameBothWays) {
  TwoWay r = unwind_both_ways({kDir + "/nofp_70_30", "8"}, kCaptureSeconds);
  print_figures("70/30", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
  EXPECT_EQ(r.compiled.dwarf_libunwind_frames, 0u);
}

TEST(DwarfTwoWay, XzUnwindsTheSameBothWays) {
  if (::access("/usr/bin/xz", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/xz";
  // xz compressing its own endless input: Debian's liblzma and libc, no frame pointers.
  TwoWay r = unwind_both_ways({"/bin/sh", "-c", "exec /usr/bin/xz -T1 -6 -c < /dev/urandom > /dev/null"},
                              kCaptureSeconds);
  print_figures("xz", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
}

TEST(DwarfTwoWay, APythonProcessUnwindsTheSameBothWays) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  TwoWay r = unwind_both_ways(
      {"/usr/bin/python3", "-c",
       "import time\ndef f(n):\n return f(n-1) if n else sum(i*i for i in range(2000))\n"
       "end=time.time()+8\nwhile time.time()<end: f(30)\n"},
      kCaptureSeconds);
  print_figures("python3", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
}

TEST(DwarfTwoWay, AHandlerBelowASignalFrameUnwindsTheSameBothWays) {
  // on_signal <- __restore_rt (its CFI is expressions: libunwind's frame) <- raise <- ... <- main.
  TwoWay r = unwind_both_ways({kDir + "/nofp_shapes", "signal", "--seconds", "8"}, kCaptureSeconds);
  print_figures("signal handler", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
  // The signal frame is handed to libunwind, once per sample in the handler, and the frame it
  // interrupted is looked up at its exact address; the unwinds still reach the root.
  EXPECT_GE(r.compiled.dwarf_libunwind_frames, r.samples * 9 / 10);
  EXPECT_GE(r.compiled.dwarf_to_root, r.samples * 9 / 10);
}

TEST(DwarfTwoWay, JitCodeWithAFramePointerUnwindsTheSameBothWays) {
  TwoWay r = unwind_both_ways({kDir + "/nofp_shapes", "jit", "--seconds", "8"}, kCaptureSeconds);
  print_figures("jit", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
  EXPECT_GT(r.compiled.dwarf_frame_pointer_steps, r.samples / 2);
}

TEST(DwarfTwoWay, PythonPerfTrampolinesUnwindTheSameBothWays) {
  // 3.12+'s -X perf: every Python call goes through a shim in anonymous memory.
  const char* root = std::getenv("PYENV_ROOT");
  const std::string python = std::string(root != nullptr && *root != '\0' ? root : "/root/.pyenv") +
                             "/versions/3.12.1/bin/python3.12";
  if (::access(python.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << python;
  TwoWay r = unwind_both_ways(
      {python, "-X", "perf", "-c",
       "import time\ndef f(n):\n return f(n-1) if n else sum(i*i for i in range(2000))\n"
       "end=time.time()+8\nwhile time.time()<end: f(30)\n"},
      kCaptureSeconds);
  print_figures("python3.12 -X perf", r);
  ASSERT_GT(r.samples, kMinSamples);
  EXPECT_EQ(r.differing, 0u) << r.first_difference;
  expect_same_endings(r);
  EXPECT_EQ(r.compiled.dwarf_shim_steps, r.libunwind.dwarf_shim_steps);
  EXPECT_GT(r.compiled.dwarf_shim_steps, 0u);
}

}  // namespace
}  // namespace ember::collector
