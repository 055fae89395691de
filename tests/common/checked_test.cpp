#include "common/checked.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace ember::common {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(Checked, AddReportsOverflowInsteadOfWrapping) {
  EXPECT_EQ(checked_add<int64_t>(2, 3), 5);
  EXPECT_EQ(checked_add<int64_t>(kMax, 0), kMax);
  EXPECT_EQ(checked_add<int64_t>(kMax, 1), std::nullopt);
  EXPECT_EQ(checked_add<int64_t>(kMax, kMax), std::nullopt);  // would wrap to -2
  EXPECT_EQ(checked_add<int64_t>(kMin, -1), std::nullopt);
  EXPECT_EQ(checked_add<uint64_t>(UINT64_MAX, 1), std::nullopt);
}

TEST(Checked, MulReportsOverflow) {
  EXPECT_EQ(checked_mul<int64_t>(1 << 20, 1 << 20), int64_t{1} << 40);
  EXPECT_EQ(checked_mul<int64_t>(int64_t{1} << 32, int64_t{1} << 31), std::nullopt);
  EXPECT_EQ(checked_mul<uint32_t>(65536, 65536), std::nullopt);
}

TEST(Checked, SaturatingArithmeticClampsToTheRange) {
  EXPECT_EQ(saturating_add<int64_t>(kMax, kMax), kMax);
  EXPECT_EQ(saturating_add<int64_t>(kMin, -5), kMin);
  EXPECT_EQ(saturating_add<int64_t>(kMax, -1), kMax - 1);
  EXPECT_EQ(saturating_add<uint64_t>(UINT64_MAX - 1, 7), UINT64_MAX);
  EXPECT_EQ(saturating_mul<int64_t>(kMax, 2), kMax);
  EXPECT_EQ(saturating_mul<int64_t>(kMax, -2), kMin);
  EXPECT_EQ(saturating_mul<int64_t>(-3, 4), -12);
}

}  // namespace
}  // namespace ember::common
