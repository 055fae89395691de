// The timeline (per-sample time order) in pprof files: kept through encode/decode, skipped by
// readers that do not know it, and refused with one line when it is broken.

#include <gtest/gtest.h>

#include "proto/pprof.h"
#include "proto/timeline_field.h"
#include "test_support.h"

namespace ember::proto {
namespace {

using test::minimal_profile;
using test::Wire;

TEST(Timeline, SurvivesEncodeAndDecodeInOrderWithExactTimes) {
  profile::Profile p = test::make_rich_profile();
  ASSERT_GE(p.samples.size(), 3u);
  const int64_t t0 = p.time_nanos;
  // Out of order and before the profile's start on purpose: deltas are signed.
  p.timeline = {{t0 + 1'000'000, 2}, {t0 + 1'010'101, 0}, {t0 - 5, 1}, {t0 + 9'000'000'000, 2}};
  for (Compression c : {Compression::kGzip, Compression::kNone}) {
    auto bytes = encode(p, c);
    ASSERT_TRUE(bytes) << bytes.error().message();
    auto back = decode(*bytes, "t.pb.gz");
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->timeline, p.timeline);
    EXPECT_EQ(test::differences(p, *back), "");
  }
}

TEST(Timeline, AProfileWithoutOneHasNoExtraField) {
  profile::Profile p = test::make_rich_profile();
  auto with_none = encode(p, Compression::kNone);
  p.timeline = {{p.time_nanos, 0}};
  auto with_one = encode(p, Compression::kNone);
  ASSERT_TRUE(with_none && with_one);
  // Field 1000, length-delimited: tag varint 0x1f42 → bytes c2 3e.
  EXPECT_EQ(with_none->find("\xc2\x3e"), std::string::npos);
  EXPECT_NE(with_one->find("\xc2\x3e"), std::string::npos);
}

TEST(Timeline, EncodeRefusesASampleIndexBeyondTheSamples) {
  profile::Profile p = test::make_rich_profile();
  p.timeline = {{p.time_nanos, static_cast<uint32_t>(p.samples.size())}};
  auto bytes = encode(p);
  ASSERT_FALSE(bytes);
  EXPECT_EQ(bytes.error().message(),
            "cannot encode profile: timed sample 0 refers to sample " + std::to_string(p.samples.size()) +
                ", but the profile has " + std::to_string(p.samples.size()));
}

TEST(Timeline, DecodeRefusesBrokenTimelinesWithOneLine) {
  auto error_of = [](const Wire& timeline) {
    auto p = decode(minimal_profile(Wire().message(kTimelineFieldNumber, timeline)), "m.pb");
    return p ? std::string("(decoded)") : p.error().message();
  };
  // The minimal profile has one sample (index 0).
  EXPECT_EQ(error_of(Wire().packed(1, {0, 1}).packed(2, {2, 2})),
            "m.pb: ember timeline: a timed sample refers to a sample beyond the 1 the profile has");
  EXPECT_EQ(error_of(Wire().packed(1, {0, 0}).packed(2, {2})),
            "m.pb: ember timeline: 2 sample indices but 1 times");
  EXPECT_EQ(error_of(Wire().packed(1, {0}).bytes(2, "\xff")),
            "m.pb: ember timeline: times: malformed packed varints");
  auto ok = decode(minimal_profile(Wire().message(kTimelineFieldNumber,
                                                  Wire().packed(1, {0, 0}).packed(2, {4, 3}))),
                   "m.pb");
  ASSERT_TRUE(ok) << ok.error().message();
  ASSERT_EQ(ok->timeline.size(), 2u);
  EXPECT_EQ(ok->timeline[0].time_ns, 2);  // zigzag 4 = +2 from time_nanos 0
  EXPECT_EQ(ok->timeline[1].time_ns, 0);  // zigzag 3 = -2
}

}  // namespace
}  // namespace ember::proto
