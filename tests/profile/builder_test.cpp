#include "profile/builder.h"

#include <gtest/gtest.h>

#include "profile/folded.h"

namespace ember::profile {
namespace {

Profile from_text(std::string_view text) {
  auto parsed = parse_folded(text, "t");
  EXPECT_TRUE(parsed);
  return to_profile(*parsed);
}

TEST(ProfileBuilder, DeduplicatesFunctionsLocationsAndSamples) {
  ProfileBuilder b;
  FunctionId f1 = b.add_function("f", "_Z1fv", "f.cc");
  FunctionId f2 = b.add_function("f", "_Z1fv", "f.cc");
  EXPECT_EQ(f1, f2);
  Line line[] = {{f1, 3, 0}};
  LocationId a = b.add_location(MappingId{}, 0x10, line);
  LocationId c = b.add_location(MappingId{}, 0x10, line);
  EXPECT_EQ(a, c);
  Label label[] = {{b.intern("pid"), {}, 5, {}}};
  int64_t one[] = {1};
  b.add_sample(std::span(&a, 1), one, label);
  b.add_sample(std::span(&a, 1), one, label);
  Profile p = std::move(b).finish();
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].values[0], 2);
}

TEST(ProfileBuilder, LabelOrderDoesNotSplitSamples) {
  ProfileBuilder b;
  LocationId loc = b.add_location(MappingId{}, 1, {});
  Label ab[] = {{b.intern("a"), b.intern("x"), 0, {}}, {b.intern("b"), b.intern("y"), 0, {}}};
  Label ba[] = {ab[1], ab[0]};
  int64_t one[] = {1};
  b.add_sample(std::span(&loc, 1), one, ab);
  b.add_sample(std::span(&loc, 1), one, ba);
  EXPECT_EQ(std::move(b).finish().samples.size(), 1u);
}

TEST(ProfileBuilder, MergeSumsEqualStacksAcrossStringTables) {
  Profile one = from_text("app;main;f 3\napp;main;g 1\n");
  Profile two = from_text("app;main;g 4\napp;main;h;k_[k] 2\n");
  ProfileBuilder b;
  ASSERT_TRUE(b.merge(one));
  ASSERT_TRUE(b.merge(two));
  Profile merged = std::move(b).finish();
  EXPECT_EQ(format_folded(fold(merged)), "app;main;f 3\napp;main;g 5\napp;main;h;k_[k] 2\n");
}

TEST(ProfileBuilder, MergeRefusesDifferentSampleTypes) {
  Profile one = from_text("a 1\n");
  Profile two = from_text("a 1\n");
  two.sample_types[0].type = two.strings.intern("alloc_space");
  two.sample_types[0].unit = two.strings.intern("bytes");
  ProfileBuilder b;
  ASSERT_TRUE(b.merge(one));
  auto r = b.merge(two);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "cannot merge profiles with sample types [samples/count] and [alloc_space/bytes]");
}

TEST(ProfileBuilder, MergeUnitesTimeSpans) {
  Profile one = from_text("a 1\n");
  one.time_nanos = 1000;
  one.duration_nanos = 100;
  Profile two = from_text("a 1\n");
  two.time_nanos = 1500;
  two.duration_nanos = 500;
  ProfileBuilder b;
  ASSERT_TRUE(b.merge(one));
  ASSERT_TRUE(b.merge(two));
  Profile merged = std::move(b).finish();
  EXPECT_EQ(merged.time_nanos, 1000);
  EXPECT_EQ(merged.duration_nanos, 1000);
}

}  // namespace
}  // namespace ember::profile
