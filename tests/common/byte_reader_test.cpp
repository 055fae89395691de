#include "common/byte_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace ember::common {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

TEST(ByteReader, LittleEndianFixedReads) {
  auto data = bytes({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f});
  ByteReader r(data);
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.u16(), 0x0302);
  EXPECT_EQ(r.u32(), 0x07060504u);
  EXPECT_EQ(r.u64(), 0x0f0e0d0c0b0a0908ull);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(ByteReader, APastTheEndReadFailsAndStaysFailed) {
  auto data = bytes({1, 2, 3});
  ByteReader r(data);
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0u) << "nothing is read after a failure";
  // The range given is the limit, not the span: [1, 2) holds one byte.
  ByteReader window(data, 1, 2);
  EXPECT_EQ(window.u8(), 2);
  EXPECT_EQ(window.u8(), 0);
  EXPECT_FALSE(window.ok());
  ByteReader beyond(data, 4);
  EXPECT_FALSE(beyond.ok());
  ByteReader skipping(data);
  skipping.skip(~uint64_t{0});
  EXPECT_FALSE(skipping.ok());
}

TEST(ByteReader, Leb128) {
  auto data = bytes({0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f, 0x80, 0x80, 0x80});
  ByteReader r(data);
  EXPECT_EQ(r.uleb(), 624485u);
  EXPECT_EQ(r.sleb(), -1);
  EXPECT_EQ(r.sleb(), -128);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.uleb(), 0u) << "a LEB128 cut off by the end";
  EXPECT_FALSE(r.ok());
}

TEST(ByteReader, ProtobufVarintsTellTruncatedFromOverlong) {
  uint64_t v = 0;
  auto ok = bytes({0xac, 0x02});
  ByteReader r(ok);
  EXPECT_EQ(r.varint(v), ByteReader::Varint::kOk);
  EXPECT_EQ(v, 300u);
  auto cut = bytes({0xac});
  ByteReader c(cut);
  EXPECT_EQ(c.varint(v), ByteReader::Varint::kTruncated);
  std::vector<std::byte> eleven(11, std::byte{0x80});
  ByteReader o(eleven);
  EXPECT_EQ(o.varint(v), ByteReader::Varint::kOverlong);
}

TEST(ByteReader, StringsInPlace) {
  auto data = bytes({'a', 'b', 0, 'c', 'd'});
  ByteReader r(data);
  EXPECT_EQ(r.cstr(), "ab");
  EXPECT_EQ(r.cstr(), "") << "no NUL before the end";
  EXPECT_FALSE(r.ok());
  ByteReader at(data);
  EXPECT_EQ(at.cstr_at(0, 16), "ab");
  EXPECT_EQ(at.cstr_at(0, 2), std::nullopt) << "longer than allowed";
  EXPECT_EQ(at.cstr_at(3, 16), std::nullopt);
  EXPECT_EQ(at.uint_at(3, 2), 0x6463u);
  EXPECT_EQ(at.uint_at(4, 2), std::nullopt);
  EXPECT_EQ(at.uint_at(~uint64_t{0}, 2), std::nullopt);
  EXPECT_TRUE(at.ok()) << "random access leaves the reader alone";
}

}  // namespace
}  // namespace ember::common
