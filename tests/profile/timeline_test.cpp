// Time order: the collector's RawProfile notes each sample's time; merges and builder merges
// keep each timed sample on its stack; the bound is kept and what passes it counted.

#include "profile/timeline.h"

#include <gtest/gtest.h>

#include "profile/builder.h"
#include "profile/raw_profile.h"

namespace ember::profile {
namespace {

// A module for the stacks: the timeline only needs its identity.
std::shared_ptr<const Module> app_module() {
  static const auto module = std::make_shared<const Module>(Module{.path = "/bin/app"});
  return module;
}

// (time, leaf offset, tid) of each timed sample, in the order noted.
std::vector<std::tuple<int64_t, uint64_t, int32_t>> timed(const RawProfile& raw) {
  std::vector<std::pair<uint64_t, int32_t>> stacks;
  raw.for_each_stack([&](const SampleOrigin& o, std::span<const RawFrame> f, const RawStackCounts&) {
    stacks.emplace_back(f.front().offset, o.tid);
  });
  std::vector<std::tuple<int64_t, uint64_t, int32_t>> out;
  raw.for_each_timed([&](int64_t t, uint32_t s) { out.emplace_back(t, stacks.at(s).first, stacks.at(s).second); });
  return out;
}

TEST(Timeline, RawProfileNotesTheStackOfEachSampleInOrder) {
  RawProfile raw;
  ModuleId m = raw.add_module(app_module());
  SampleOrigin a{1, 1, raw.intern("app"), raw.intern("app")};
  SampleOrigin b{1, 2, raw.intern("app"), raw.intern("worker")};
  RawFrame x[] = {{m, 0x10}};
  RawFrame y[] = {{m, 0x20}};
  raw.add_sample(a, x, 1000);
  raw.note_time(100);
  raw.add_sample(b, y, 1000);
  raw.note_time(150);
  raw.add_sample(a, x, 1000);
  raw.note_time(200);
  raw.add_sample(a, y, 1000);
  raw.note_time(300);
  EXPECT_EQ(raw.unique_stacks(), 3u);
  using T = std::tuple<int64_t, uint64_t, int32_t>;
  EXPECT_EQ(timed(raw), (std::vector<T>{{100, 0x10, 1}, {150, 0x20, 2}, {200, 0x10, 1}, {300, 0x20, 1}}));
}

TEST(Timeline, ASampleDroppedAtTheStackBoundIsNotTimed) {
  RawProfile raw(1);
  ModuleId m = raw.add_module(app_module());
  SampleOrigin a{1, 1, raw.intern("app"), raw.intern("app")};
  RawFrame x[] = {{m, 0x10}};
  RawFrame y[] = {{m, 0x20}};
  raw.add_sample(a, x, 1);
  raw.note_time(1);
  EXPECT_FALSE(raw.add_sample(a, y, 1));
  raw.note_time(2);
  EXPECT_EQ(raw.timeline_size(), 1u);
}

TEST(Timeline, TheBoundKeepsTheFirstSamplesAndCountsTheRest) {
  RawProfile raw;
  raw.set_max_timeline_samples(3);
  ModuleId m = raw.add_module(app_module());
  SampleOrigin a{1, 1, raw.intern("app"), raw.intern("app")};
  RawFrame x[] = {{m, 0x10}};
  for (int i = 0; i < 5; ++i) {
    raw.add_sample(a, x, 1);
    raw.note_time(i);
  }
  EXPECT_EQ(raw.timeline_size(), 3u);
  EXPECT_EQ(raw.timeline_dropped(), 2u);
  EXPECT_EQ(raw.total_samples(), 5u);  // the aggregated stacks keep all
}

TEST(Timeline, RawMergeRemapsStacksAndInterleavesByTime) {
  RawProfile first;
  RawProfile second;
  auto exe = app_module();
  ModuleId m1 = first.add_module(exe);
  ModuleId m2 = second.add_module(exe);
  RawFrame x1[] = {{m1, 0x10}};
  RawFrame y2[] = {{m2, 0x20}};
  RawFrame x2[] = {{m2, 0x10}};
  first.add_sample(SampleOrigin{1, 1, first.intern("app"), first.intern("app")}, x1, 1);
  first.note_time(10);
  first.add_sample(SampleOrigin{1, 1, first.intern("app"), first.intern("app")}, x1, 1);
  first.note_time(30);
  // In `second`, the stack 0x20 is entry 0 and 0x10 entry 1: the merge must map them.
  second.add_sample(SampleOrigin{1, 3, second.intern("app"), second.intern("t3")}, y2, 1);
  second.note_time(20);
  second.add_sample(SampleOrigin{1, 1, second.intern("app"), second.intern("app")}, x2, 1);
  second.note_time(40);
  first.merge(second);
  using T = std::tuple<int64_t, uint64_t, int32_t>;
  EXPECT_EQ(timed(first), (std::vector<T>{{10, 0x10, 1}, {20, 0x20, 3}, {30, 0x10, 1}, {40, 0x10, 1}}));
}

Profile one_sample_profile(std::string_view leaf, int64_t tid) {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}};
  b.set_sample_types(types);
  auto f = b.add_function(leaf, leaf, "app.c");
  Line line{f, 1, 0};
  auto l = b.add_location(MappingId{}, 0x10, std::span(&line, 1));
  int64_t one = 1;
  Label tid_label{b.intern(kLabelTid), {}, tid, {}};
  b.add_sample(std::span(&l, 1), std::span(&one, 1), std::span(&tid_label, 1));
  return std::move(b).finish();
}

TEST(Timeline, BuilderMergeMapsSampleIndicesAndSplitsByThread) {
  Profile a = one_sample_profile("alpha", 7);
  a.timeline = {{5, 0}, {15, 0}};
  Profile b = one_sample_profile("beta", 8);
  b.timeline = {{10, 0}};
  ProfileBuilder merged;
  ASSERT_TRUE(merged.merge(a));
  ASSERT_TRUE(merged.merge(b));
  Profile p = std::move(merged).finish();
  ASSERT_EQ(p.samples.size(), 2u);
  EXPECT_EQ(p.timeline, (std::vector<TimedSample>{{5, 0}, {10, 1}, {15, 0}}));
  auto threads = timeline_by_thread(p);
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_EQ(threads[0].tid, 7);
  EXPECT_EQ(threads[0].samples.size(), 2u);
  EXPECT_EQ(threads[1].tid, 8);
  EXPECT_EQ(threads[1].samples.front().time_ns, 10);
}

}  // namespace
}  // namespace ember::profile
