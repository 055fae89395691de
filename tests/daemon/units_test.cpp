#include "daemon/units.h"

#include <gtest/gtest.h>

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("60s"), 60s);
  EXPECT_EQ(*parse_duration("5m"), 5min);
  EXPECT_EQ(*parse_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_duration("7d"), std::chrono::hours(24 * 7));
}

TEST(Duration, RefusesWhatItCannotKnow) {
  for (const char* bad : {"", "60", "s", "5x", "-5s", "1.5h", "99999999999999999d", "5 m"}) {
    auto d = parse_duration(bad);
    EXPECT_FALSE(d.has_value()) << bad;
    if (!d) {
      EXPECT_NE(d.error().message().find("invalid duration"), std::string::npos);
    }
  }
}

TEST(Duration, FormatsShortestExactSpelling) {
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(std::chrono::hours(24 * 7)), "7d");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  for (const char* text : {"1h30m", "7d", "45s", "250ms", "2d3h4m5s6ms"}) {
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
  }
}

TEST(Bytes, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(*parse_bytes("4096"), 4096u);
  EXPECT_EQ(*parse_bytes("4096B"), 4096u);
  EXPECT_EQ(*parse_bytes("512KiB"), 512u << 10);
  EXPECT_EQ(*parse_bytes("64MiB"), 64u << 20);
  EXPECT_EQ(*parse_bytes("1GiB"), 1u << 30);
  EXPECT_EQ(*parse_bytes("10MB"), 10'000'000u);
  EXPECT_FALSE(parse_bytes("1 GiB"));
  EXPECT_FALSE(parse_bytes("GiB"));
  EXPECT_FALSE(parse_bytes("1gib"));
  EXPECT_FALSE(parse_bytes("99999999999TiB"));
  EXPECT_EQ(format_bytes(1u << 30), "1GiB");
  EXPECT_EQ(format_bytes(1000), "1000B");
}

TEST(Time, ParsesRfc3339WithFractionsAndOffsets) {
  const UnixNanos base = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
  EXPECT_EQ(*parse_time("2023-11-14T22:13:20Z", 0), base);
  EXPECT_EQ(*parse_time("2023-11-14T22:13:20.5Z", 0), base + 500'000'000);
  EXPECT_EQ(*parse_time("2023-11-15T00:13:20+02:00", 0), base);
  EXPECT_EQ(*parse_time("2023-11-14t22:13:20z", 0), base);
  EXPECT_EQ(format_time(base + 123'000'000), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_time_compact(base), "20231114T221320Z");
}

TEST(Time, ParsesRelativeTimes) {
  const UnixNanos now = 1'700'000'000'000'000'000;
  EXPECT_EQ(*parse_time("now", now), now);
  EXPECT_EQ(*parse_time("-15m", now), now - 15 * 60 * 1'000'000'000ll);
  EXPECT_EQ(*parse_time("-1h", now), now - 3600 * 1'000'000'000ll);
  EXPECT_EQ(*parse_time("now-2d", now), now - 2 * 86400 * 1'000'000'000ll);
}

TEST(Time, RefusesMalformedTimesWithAHint) {
  for (const char* bad : {"", "yesterday", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z", "2023-11-14T22:13:20",
                          "2023-11-14T25:00:00Z", "-1y", "2023-11-14T22:13:20Zjunk", "1700000000"}) {
    auto t = parse_time(bad, 0);
    EXPECT_FALSE(t.has_value()) << bad;
    if (!t) {
      EXPECT_NE(t.error().message().find("RFC 3339"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace ember::daemon
