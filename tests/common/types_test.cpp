#include "common/types.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace ember::common {
namespace {

static_assert(!std::is_convertible_v<FileOffset, ProcessAddress>,
              "address kinds must not convert into each other");
static_assert(!std::is_convertible_v<uint64_t, FileOffset>, "no implicit construction from integers");

TEST(BuildId, HexRoundTrip) {
  BuildId id = BuildId::from_hex("00ff10Ab");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(id.raw().size(), 4u);
  EXPECT_EQ(id.hex(), "00ff10ab");
  EXPECT_EQ(BuildId::from_hex(id.hex()), id);
}

TEST(BuildId, MalformedHexIsEmpty) {
  EXPECT_TRUE(BuildId::from_hex("abc").empty());
  EXPECT_TRUE(BuildId::from_hex("zz").empty());
}

TEST(HexAddress, Formats) { EXPECT_EQ(hex_address(0x15a20), "0x15a20"); }

}  // namespace
}  // namespace ember::common
