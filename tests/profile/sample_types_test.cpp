// The sample types of off-CPU recordings and how fold() shows them: wall time split into the
// on-CPU part and off-CPU parts under marker leaf frames.

#include "profile/sample_types.h"

#include <gtest/gtest.h>

#include "profile/builder.h"
#include "profile/folded.h"

namespace ember::profile {
namespace {

TEST(SampleTypes, OffCpuRecordingsHaveWallAsDefault) {
  auto cpu = recording_sample_types(false);
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu[0].first, "samples");
  EXPECT_EQ(cpu[1].first, "cpu");
  EXPECT_EQ(recording_default_sample_type(false), "samples");
  auto all = recording_sample_types(true);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[2].first, "blocked");
  EXPECT_EQ(all[3].first, "runnable");
  EXPECT_EQ(all[4].first, "off_cpu");
  EXPECT_EQ(all[5].first, "wall");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].second, "nanoseconds");
  EXPECT_EQ(recording_default_sample_type(true), "wall");

  int64_t v[6] = {};
  EXPECT_EQ(recording_values(RawStackCounts{3, 3000, 500, 20}, true, v), 6u);
  EXPECT_EQ(v[0], 3);
  EXPECT_EQ(v[1], 3000);
  EXPECT_EQ(v[2], 500);
  EXPECT_EQ(v[3], 20);
  EXPECT_EQ(v[4], 520);
  EXPECT_EQ(v[5], 3520);
  EXPECT_EQ(recording_values(RawStackCounts{3, 3000, 500, 20}, false, v), 2u);
}

// A thread of "app" that computes in main;work and sleeps in main;nap;nanosleep_[k], and was
// preempted once inside work.
Profile wall_profile() {
  ProfileBuilder b;
  b.set_sample_types(recording_sample_types(true));
  b.profile().default_sample_type = b.intern(recording_default_sample_type(true));
  Mapping exe;
  exe.filename = b.intern("/usr/bin/app");
  MappingId m = b.add_mapping(exe);
  Mapping kernel;
  kernel.filename = b.intern("[kernel.kallsyms]");
  kernel.kind = MappingKind::kKernel;
  MappingId k = b.add_mapping(kernel);
  auto loc = [&](MappingId mapping, uint64_t address, std::string_view name) {
    Line line{b.add_function(name, name, ""), 0, 0};
    return b.add_location(mapping, address, std::span(&line, 1));
  };
  LocationId l_main = loc(m, 1, "main"), l_work = loc(m, 2, "work"), l_nap = loc(m, 3, "nap");
  LocationId l_sleep = loc(k, 4, "nanosleep");
  std::vector<Label> labels = {{b.intern("comm"), b.intern("app"), 0, {}}};
  LocationId working[] = {l_work, l_main};
  LocationId napping[] = {l_sleep, l_nap, l_main};
  int64_t work_values[6];
  recording_values(RawStackCounts{2, 2000, 0, 300}, true, work_values);
  int64_t nap_values[6];
  recording_values(RawStackCounts{0, 0, 5000, 0}, true, nap_values);
  b.add_sample(working, work_values, labels);
  b.add_sample(napping, nap_values, labels);
  return std::move(b).finish();
}

TEST(Fold, WallTimeMarksOffCpuParts) {
  Profile p = wall_profile();
  FoldedStacks f = fold(p);  // the default: wall
  EXPECT_EQ(f.value_type, "wall");
  EXPECT_EQ(format_folded(f),
            "app;main;nap;nanosleep_[k];[off-cpu: blocked] 5000\n"
            "app;main;work 2000\n"
            "app;main;work;[off-cpu: runnable] 300\n");
  EXPECT_EQ(f.total(), 7300);
}

TEST(Fold, EachSampleTypeAlone) {
  Profile p = wall_profile();
  auto folded = [&](std::string_view type) {
    FoldOptions o;
    o.value_index = *p.value_index(type);
    return format_folded(fold(p, o));
  };
  EXPECT_EQ(folded("cpu"), "app;main;work 2000\n");
  EXPECT_EQ(folded("samples"), "app;main;work 2\n");
  EXPECT_EQ(folded("blocked"), "app;main;nap;nanosleep_[k];[off-cpu: blocked] 5000\n");
  EXPECT_EQ(folded("runnable"), "app;main;work;[off-cpu: runnable] 300\n");
  EXPECT_EQ(folded("off_cpu"),
            "app;main;nap;nanosleep_[k];[off-cpu: blocked] 5000\n"
            "app;main;work;[off-cpu: runnable] 300\n");
  FoldOptions unmarked;
  unmarked.mark_off_cpu = false;
  EXPECT_EQ(format_folded(fold(p, unmarked)), "app;main;nap;nanosleep_[k] 5000\napp;main;work 2300\n");
}

}  // namespace
}  // namespace ember::profile
