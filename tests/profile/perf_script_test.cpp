// `perf script` text in: stacks as stackcollapse-perf.pl folds them (kernel frames marked,
// inlined frames their own), threads and times kept, malformed text refused with file:line.

#include "profile/perf_script.h"

#include <gtest/gtest.h>

#include "profile/folded.h"

namespace ember::profile {
namespace {

constexpr std::string_view kCallchains =
    "# ========\n"
    "# captured on: Fri Dec  4 23:00:00 2026\n"
    "my app 1234/1235 [001] 100.000100:     250000 cpu-clock:u: \n"
    "\tffffffff81a00010 __x64_sys_write+0x5 ([kernel.kallsyms])\n"
    "\tffffffff82000044 entry_SYSCALL_64_after_hwframe+0x44 ([kernel.kallsyms])\n"
    "\t          7f0001 write+0x11 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
    "\t            1190 inner (inlined)\n"
    "\t            1190 outer+0x20 (/tmp/app)\n"
    "\t            1100 main+0x10 (/tmp/app)\n"
    "\n"
    "my app 1234/1235 [001] 100.000350:     250000 cpu-clock:u: \n"
    "\t            1190 inner (inlined)\n"
    "\t            1190 outer+0x20 (/tmp/app)\n"
    "\t            1100 main+0x10 (/tmp/app)\n"
    "\n"
    "worker 1234/1240 [000] 100.000200:     250000 cpu-clock:u: \n"
    "\t            1190 inner (inlined)\n"
    "\t            1190 outer+0x20 (/tmp/app)\n"
    "\t            1100 main+0x10 (/tmp/app)\n"
    "\n";

std::string folded_text(const Profile& p, bool per_thread = false) {
  FoldOptions options;
  options.value_index = 0;
  options.per_thread = per_thread;
  return format_folded(fold(p, options));
}

TEST(PerfScript, CallchainsFoldAsStackcollapsePerfDoes) {
  EXPECT_TRUE(looks_like_perf_script(kCallchains));
  auto p = parse_perf_script(kCallchains, "perf.txt");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(folded_text(*p),
            "my app;main;outer;inner 1\n"
            "my app;main;outer;inner;write;entry_SYSCALL_64_after_hwframe_[k];__x64_sys_write_[k] 1\n"
            "worker;main;outer;inner 1\n");
  // cpu-clock periods are CPU nanoseconds.
  EXPECT_EQ(p->total(*p->value_index("cpu")), 750000);
  EXPECT_EQ(p->str(p->default_sample_type), "samples");
}

TEST(PerfScript, ThreadsAndTimesAreKept) {
  auto p = parse_perf_script(kCallchains, "perf.txt");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->timeline.size(), 3u);
  EXPECT_EQ(p->timeline[0].time_ns, 100'000'100'000);
  EXPECT_EQ(p->timeline[2].time_ns, 100'000'200'000);
  EXPECT_EQ(p->time_nanos, 100'000'100'000);
  EXPECT_EQ(p->duration_nanos, 250'000);
  const Sample& worker = p->samples[p->timeline[2].sample];
  EXPECT_EQ(p->num_label(worker, kLabelTid), 1240);
  EXPECT_EQ(p->num_label(worker, kLabelPid), 1234);
  EXPECT_EQ(p->str_label(worker, kLabelComm), "worker");
}

TEST(PerfScript, WithoutCallchainsTheFrameIsOnTheHeaderLine) {
  constexpr std::string_view text =
      "       workerthr  6916 15118.084424:    2004008 cpu-clock:      55fd7ffb8198 phase_b+0xc (/tmp/vw/t)\n"
      "         mainthr  6914 15118.087099:    2004008 cpu-clock:      55fd7ffb8175 phase_a+0xc (/tmp/vw/t)\n"
      "         mainthr  6914 15118.089103:    2004008 cpu-clock:      55fd7ffb8175 phase_a+0xc (/tmp/vw/t)\n";
  EXPECT_TRUE(looks_like_perf_script(text));
  auto p = parse_perf_script(text, "flat.txt");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(folded_text(*p), "mainthr;phase_a 2\nworkerthr;phase_b 1\n");
}

TEST(PerfScript, SrclineGivesFileAndLine) {
  constexpr std::string_view text =
      "inl  6967/6967  15120.817053:    2004008 cpu-clock: \n"
      "\t            115d outer (/tmp/vw/inl)\n"
      "  inl.c:3\n"
      "\t           2724a __libc_start_call_main (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "  libc-start.c:74\n";
  auto p = parse_perf_script(text, "src.txt");
  ASSERT_TRUE(p) << p.error().message();
  const Location& leaf = p->location(p->samples[0].locations[0]);
  ASSERT_EQ(leaf.lines.size(), 1u);
  EXPECT_EQ(leaf.lines[0].line, 3);
  EXPECT_EQ(p->str(p->function(leaf.lines[0].function).filename), "inl.c");
  EXPECT_EQ(p->str(p->function(leaf.lines[0].function).name), "outer");
}

TEST(PerfScript, FoldedAndPprofAreNotTakenForIt) {
  EXPECT_FALSE(looks_like_perf_script("main;work 12\nmain;idle 3\n"));
  EXPECT_FALSE(looks_like_perf_script("\x1f\x8b\x08"));
  EXPECT_FALSE(looks_like_perf_script(""));
}

TEST(PerfScript, MalformedTextNamesTheFileAndLine) {
  auto error_of = [](std::string_view text) {
    auto p = parse_perf_script(text, "perf.txt");
    return p ? std::string("(parsed)") : p.error().message();
  };
  EXPECT_EQ(error_of("\t1190 outer (/tmp/app)\n"), "perf.txt:1: a stack frame before any sample header");
  EXPECT_EQ(error_of("app 1/1 1.000001: cpu-clock:\n\t1190 outer (/tmp/app)\n\tzz not a frame\n"),
            "perf.txt:3: not a stack frame (expected 'ADDRESS SYMBOL (DSO)')");
  EXPECT_EQ(error_of("app 1/1 1.000001: cpu-clock:\n\t1190 outer (/tmp/app)\n\nthis is not a header\n"),
            "perf.txt:4: not a perf script sample header (expected 'COMM PID/TID TIME: EVENT:')");
  EXPECT_EQ(error_of("# only comments\n"), "perf.txt: no samples in the perf script text");
  InputLimits small;
  small.max_frames = 2;
  auto p = parse_perf_script(kCallchains, "perf.txt", small);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(), "perf.txt: more than 2 frames in all stacks (the limit; --max-frames raises it)");
}

}  // namespace
}  // namespace ember::profile
