#include "analysis/units.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ember::analysis {
namespace {

TEST(ParsePercentage, PercentAndFractionSpellings) {
  EXPECT_DOUBLE_EQ(*parse_percentage("10%"), 0.10);
  EXPECT_DOUBLE_EQ(*parse_percentage("0.5%"), 0.005);
  EXPECT_DOUBLE_EQ(*parse_percentage("150%"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_percentage("0.1"), 0.10);
  EXPECT_DOUBLE_EQ(*parse_percentage("1e-1"), 0.10);
  EXPECT_DOUBLE_EQ(*parse_percentage(" 10 % "), 0.10);
  EXPECT_DOUBLE_EQ(*parse_percentage("0"), 0.0);
}

TEST(ParsePercentage, RejectsAmbiguousAndMalformedInput) {
  auto ambiguous = parse_percentage("10");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ambiguous.error().message(),
            "'10' is not a percentage: ambiguous without '%': write 10% or 0.1");
  EXPECT_EQ(parse_percentage("1").error().message(),
            "'1' is not a percentage: ambiguous without '%': write 1% or 0.01");
  EXPECT_EQ(parse_percentage("-5%").error().message(),
            "'-5%' is not a percentage: must not be negative");
  EXPECT_EQ(parse_percentage("ten").error().message(),
            "'ten' is not a percentage: expected a number such as 10% or 0.1");
  EXPECT_EQ(parse_percentage("10%%").error().message(),
            "'10%%' is not a percentage: expected a number such as 10% or 0.1");
  EXPECT_EQ(parse_percentage("").error().message(),
            "'' is not a percentage: no number (expected e.g. 10% or 0.1)");
  EXPECT_EQ(parse_percentage("nan").error().message(),
            "'nan' is not a percentage: not a finite number");
  EXPECT_FALSE(parse_percentage("inf%"));
}

TEST(FormatValue, HumanUnits) {
  EXPECT_EQ(format_value(int64_t{1234}, "count"), "1234");
  EXPECT_EQ(format_value(int64_t{850}, "nanoseconds"), "850ns");
  EXPECT_EQ(format_value(int64_t{12500}, "nanoseconds"), "12.50us");
  EXPECT_EQ(format_value(int64_t{340'000'000}, "nanoseconds"), "340.00ms");
  EXPECT_EQ(format_value(int64_t{1'250'000'000}, "nanoseconds"), "1.25s");
  EXPECT_EQ(format_value(int64_t{250}, "milliseconds"), "250.00ms");
  EXPECT_EQ(format_value(int64_t{512}, "bytes"), "512B");
  EXPECT_EQ(format_value(int64_t{1536}, "bytes"), "1.50kB");
  EXPECT_EQ(format_value(int64_t{5}, "widgets"), "5 widgets");
}

TEST(FormatNumbers, SharesChangesAndPValues) {
  EXPECT_EQ(format_share(0.4), "40.00%");
  EXPECT_EQ(format_share(0.00123), "0.12%");
  EXPECT_EQ(format_percentage(0.1), "10%");
  EXPECT_EQ(format_percentage(0.005), "0.5%");
  EXPECT_EQ(format_percentage(0.99), "99%");
  EXPECT_EQ(format_change(0.667), "+66.7%");
  EXPECT_EQ(format_change(-0.2), "-20.0%");
  EXPECT_EQ(format_change(INFINITY), "new");
  EXPECT_EQ(format_p_value(1e-5), "<0.0001");
  EXPECT_EQ(format_p_value(0.0031), "0.0031");
  EXPECT_EQ(format_p_value(0.5), "0.5");
}

}  // namespace
}  // namespace ember::analysis
