#include "profile/raw_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ember::profile {
namespace {

std::shared_ptr<const Module> make_module(std::string path) {
  auto m = std::make_shared<Module>();
  m->path = std::move(path);
  return m;
}

TEST(RawProfile, AggregatesIdenticalStacks) {
  RawProfile raw;
  auto exe = make_module("/usr/bin/app");
  ModuleId id = raw.add_module(exe);
  EXPECT_EQ(raw.add_module(exe), id);
  SampleOrigin origin{10, 11, raw.intern("app"), raw.intern("worker")};
  RawFrame stack[] = {{id, 0x1234}, {id, 0x1000}};
  EXPECT_TRUE(raw.add_sample(origin, stack, 1000));
  EXPECT_TRUE(raw.add_sample(origin, stack, 1000));
  RawFrame other[] = {{id, 0x1235}, {id, 0x1000}};
  EXPECT_TRUE(raw.add_sample(origin, other, 1000));
  EXPECT_EQ(raw.unique_stacks(), 2u);
  EXPECT_EQ(raw.total_samples(), 3u);
  EXPECT_EQ(raw.total_weight(), 3000u);
  uint64_t seen = 0;
  raw.for_each_stack([&](const SampleOrigin& o, std::span<const RawFrame> frames,
                         const RawStackCounts& c) {
    EXPECT_EQ(o.pid, 10);
    EXPECT_EQ(raw.str(o.thread_comm), "worker");
    EXPECT_EQ(frames.size(), 2u);
    seen += c.samples;
  });
  EXPECT_EQ(seen, 3u);
}

TEST(RawProfile, OffCpuTimeAddsToTheSameStackAndSurvivesMerge) {
  RawProfile raw(1);
  raw.off_cpu = true;
  ModuleId id = raw.add_module(make_module("/usr/bin/app"));
  SampleOrigin origin{10, 10, raw.intern("app"), raw.intern("app")};
  RawFrame stack[] = {{id, 0x1234}};
  EXPECT_TRUE(raw.add_sample(origin, stack, 1000));
  EXPECT_TRUE(raw.add(origin, stack, RawStackCounts{0, 0, 700, 50}));
  RawFrame other[] = {{id, 0x99}};
  EXPECT_FALSE(raw.add(origin, other, RawStackCounts{0, 0, 400, 0}));  // past the bound of 1
  EXPECT_EQ(raw.dropped_off_cpu_ns(), 400u);
  EXPECT_EQ(raw.totals().blocked_ns, 700u);
  EXPECT_EQ(raw.totals().runnable_ns, 50u);
  RawProfile merged;
  merged.merge(raw);
  EXPECT_TRUE(merged.off_cpu);
  EXPECT_EQ(merged.dropped_off_cpu_ns(), 400u);
  merged.for_each_stack([&](const SampleOrigin&, std::span<const RawFrame>, const RawStackCounts& c) {
    EXPECT_EQ(c.samples, 1u);
    EXPECT_EQ(c.weight, 1000u);
    EXPECT_EQ(c.blocked_ns, 700u);
    EXPECT_EQ(c.runnable_ns, 50u);
  });
}

TEST(RawProfile, SameStackDifferentThreadIsSeparate) {
  RawProfile raw;
  ModuleId id = raw.add_module(make_module("/bin/x"));
  RawFrame stack[] = {{id, 1}};
  raw.add_sample({1, 1, raw.intern("x"), raw.intern("x")}, stack, 1);
  raw.add_sample({1, 2, raw.intern("x"), raw.intern("x")}, stack, 1);
  EXPECT_EQ(raw.unique_stacks(), 2u);
}

TEST(RawProfile, LimitDropsNewStacksAndCountsThem) {
  RawProfile raw(2);
  SampleOrigin o{1, 1, raw.intern("x"), raw.intern("x")};
  RawFrame a[] = {{ModuleId{}, 1}};
  RawFrame b[] = {{ModuleId{}, 2}};
  RawFrame c[] = {{ModuleId{}, 3}};
  EXPECT_TRUE(raw.add_sample(o, a, 1));
  EXPECT_TRUE(raw.add_sample(o, b, 1));
  EXPECT_FALSE(raw.add_sample(o, c, 1));
  EXPECT_TRUE(raw.add_sample(o, a, 1));  // known stacks still count
  EXPECT_EQ(raw.unique_stacks(), 2u);
  EXPECT_EQ(raw.total_samples(), 3u);
  EXPECT_EQ(raw.dropped_samples(), 1u);
}

TEST(RawProfile, MergeReinternsModulesAndStrings) {
  auto exe = make_module("/bin/x");
  RawProfile a, b;
  ModuleId ia = a.add_module(exe);
  b.add_module(make_module("/bin/other"));
  ModuleId ib = b.add_module(exe);
  RawFrame fa[] = {{ia, 5}};
  RawFrame fb[] = {{ib, 5}};
  a.add_sample({1, 1, a.intern("x"), a.intern("x")}, fa, 10);
  b.add_sample({1, 1, b.intern("x"), b.intern("x")}, fb, 10, 2);
  a.merge(b);
  EXPECT_EQ(a.unique_stacks(), 1u);
  EXPECT_EQ(a.total_samples(), 3u);
  EXPECT_EQ(a.total_weight(), 20u);
  EXPECT_EQ(a.module_count(), 2u);
}

std::shared_ptr<const Module> python_module() {
  auto m = std::make_shared<Module>();
  m->kind = MappingKind::kPython;
  m->path = std::string(kPythonMappingName);
  return m;
}

TEST(RawProfile, PythonFramesAreInternedOnce) {
  RawProfile raw;
  auto a = raw.add_python_frame("handle", "/srv/app.py", 40, 38);
  auto b = raw.add_python_frame("main", "/srv/app.py", 12, 10);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(raw.add_python_frame("handle", "/srv/app.py", 40, 38), a);
  // Another line of the same function is another frame (the location differs).
  EXPECT_NE(raw.add_python_frame("handle", "/srv/app.py", 41, 38), a);
  EXPECT_EQ(raw.python_frame_count(), 3u);
  const PythonFrame& f = raw.python_frame(*a);
  EXPECT_EQ(raw.str(f.function), "handle");
  EXPECT_EQ(raw.str(f.file), "/srv/app.py");
  EXPECT_EQ(f.line, 40);
  EXPECT_EQ(f.first_line, 38);
}

TEST(RawProfile, PythonFrameTableIsBounded) {
  RawProfile raw;
  raw.set_max_python_frames(2);
  EXPECT_TRUE(raw.add_python_frame("a", "x.py", 1, 1));
  EXPECT_TRUE(raw.add_python_frame("b", "x.py", 2, 2));
  EXPECT_FALSE(raw.add_python_frame("c", "x.py", 3, 3));
  EXPECT_TRUE(raw.add_python_frame("a", "x.py", 1, 1));  // known frames still resolve
  EXPECT_EQ(raw.python_frame_count(), 2u);
}

TEST(RawProfile, MergeCarriesPythonFramesIntoTheOtherTable) {
  auto exe = make_module("/usr/bin/python3.11");
  auto py = python_module();
  RawProfile a, b;
  ModuleId a_py = a.add_module(py);
  ModuleId a_exe = a.add_module(exe);
  // `a` already holds another frame at index 0: b's indices must be translated.
  const uint32_t a_other = *a.add_python_frame("other", "/srv/other.py", 1, 1);
  const uint32_t a_main = *a.add_python_frame("main", "/srv/app.py", 12, 10);
  const RawFrame fa[] = {{a_py, a_main}, {a_exe, 0x100}};
  a.add_sample({1, 1, a.intern("python3"), a.intern("python3")}, fa, 10);

  ModuleId b_exe = b.add_module(exe);
  ModuleId b_py = b.add_module(py);
  const uint32_t b_handle = *b.add_python_frame("handle", "/srv/app.py", 40, 38);
  const uint32_t b_main = *b.add_python_frame("main", "/srv/app.py", 12, 10);
  const RawFrame fb[] = {{b_py, b_handle}, {b_py, b_main}, {b_exe, 0x100}};
  const RawFrame fb_same_as_a[] = {{b_py, b_main}, {b_exe, 0x100}};
  b.add_sample({1, 1, b.intern("python3"), b.intern("python3")}, fb, 10, 3);
  b.add_sample({1, 1, b.intern("python3"), b.intern("python3")}, fb_same_as_a, 10, 2);

  a.merge(b);
  EXPECT_EQ(a.python_frame_count(), 3u);
  EXPECT_EQ(a.unique_stacks(), 2u);  // b's second stack is a's stack
  EXPECT_EQ(a.total_samples(), 6u);
  std::vector<std::string> seen;
  a.for_each_stack([&](const SampleOrigin&, std::span<const RawFrame> frames, const RawStackCounts& c) {
    std::string text;
    for (const RawFrame& f : frames) {
      if (a.module(f.module).kind == MappingKind::kPython) {
        const PythonFrame& p = a.python_frame(f.offset);
        text += std::string(a.str(p.function)) + ":" + std::to_string(p.line) + ";";
      } else {
        text += "native;";
      }
    }
    seen.push_back(text + std::to_string(c.samples));
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"handle:40;main:12;native;3", "main:12;native;3"}));
  (void)a_other;
}

TEST(RawProfile, MergePastThePythonBoundDropsTheSampleAndCountsIt) {
  auto py = python_module();
  RawProfile a, b;
  a.set_max_python_frames(1);
  a.add_python_frame("kept", "x.py", 1, 1);
  ModuleId b_py = b.add_module(py);
  const RawFrame fb[] = {{b_py, *b.add_python_frame("new", "y.py", 2, 2)}};
  b.add_sample({1, 1, b.intern("p"), b.intern("p")}, fb, 10, 4);
  a.merge(b);
  EXPECT_EQ(a.unique_stacks(), 0u);
  EXPECT_EQ(a.dropped_samples(), 4u);
}

}  // namespace
}  // namespace ember::profile
