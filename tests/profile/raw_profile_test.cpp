#include "profile/raw_profile.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ember::profile
