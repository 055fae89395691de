// Object decoders (str, bytes, _Py_DebugOffsets, the version string) on hand-made and hostile
// bytes: the layouts are the real ones, the contents are what a torn or garbage read could give.

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "python/interpreter.h"
#include "python/layout.h"
#include "python/objects.h"

namespace ember::python {
namespace {

// A str object's first bytes as CPython lays them out.
std::vector<std::byte> str_head(const Layout& l, int64_t length, int kind, bool compact, bool ascii) {
  std::vector<std::byte> head(l.unicode_ascii_size);
  uint32_t state = (static_cast<uint32_t>(kind) << 2) | (compact ? 1u << 5 : 0) |
                   (ascii ? 1u << 6 : 0) | (1u << 7);
  std::memcpy(head.data() + l.unicode_state, &state, 4);
  std::memcpy(head.data() + l.unicode_length, &length, 8);
  return head;
}

template <class T>
std::vector<std::byte> units(std::initializer_list<T> values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

class StringTest : public ::testing::TestWithParam<int> {
 protected:
  Layout layout() const { return *builtin_layout(GetParam()); }
};

TEST_P(StringTest, CompactAsciiDataFollowsTheAsciiHeader) {
  Layout l = layout();
  auto h = parse_string_header(str_head(l, 5, 1, true, true), l, kMaxStringBytes);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->data_offset, l.unicode_ascii_size);
  EXPECT_EQ(h->data_bytes, 5u);
  auto text = decode_string_data(units<char>({'i', 'n', 'n', 'e', 'r'}), *h);
  EXPECT_EQ(text, "inner");
}

TEST_P(StringTest, OtherKindsFollowTheCompactHeaderAndBecomeUtf8) {
  Layout l = layout();
  auto latin1 = parse_string_header(str_head(l, 3, 1, true, false), l, kMaxStringBytes);
  ASSERT_TRUE(latin1.has_value());
  EXPECT_EQ(latin1->data_offset, l.unicode_compact_size);
  EXPECT_EQ(decode_string_data(units<uint8_t>({'c', 0xe9, 'e'}), *latin1), "c\xc3\xa9" "e");

  auto ucs2 = parse_string_header(str_head(l, 2, 2, true, false), l, kMaxStringBytes);
  ASSERT_TRUE(ucs2.has_value());
  EXPECT_EQ(ucs2->data_bytes, 4u);
  EXPECT_EQ(decode_string_data(units<uint16_t>({0x65e5, 0xd800}), *ucs2),
            "\xe6\x97\xa5\xef\xbf\xbd");  // 日 and a lone surrogate as U+FFFD

  auto ucs4 = parse_string_header(str_head(l, 1, 4, true, false), l, kMaxStringBytes);
  ASSERT_TRUE(ucs4.has_value());
  EXPECT_EQ(decode_string_data(units<uint32_t>({0x1f525}), *ucs4), "\xf0\x9f\x94\xa5");
  EXPECT_EQ(decode_string_data(units<uint32_t>({0x110000}), *ucs4), std::nullopt);
}

TEST_P(StringTest, ImpossibleHeadersAreRefused) {
  Layout l = layout();
  EXPECT_FALSE(parse_string_header(str_head(l, 3, 1, false, true), l, 4096));  // legacy string
  EXPECT_FALSE(parse_string_header(str_head(l, 3, 3, true, false), l, 4096));  // kind 3
  EXPECT_FALSE(parse_string_header(str_head(l, 3, 0, true, false), l, 4096));  // kind 0
  EXPECT_FALSE(parse_string_header(str_head(l, 3, 2, true, true), l, 4096));   // ascii but kind 2
  EXPECT_FALSE(parse_string_header(str_head(l, -1, 1, true, true), l, 4096));  // negative length
  EXPECT_FALSE(parse_string_header(str_head(l, 4097, 1, true, true), l, 4096));  // too long
  EXPECT_FALSE(parse_string_header(str_head(l, 1025, 4, true, false), l, 4096));  // 4100 bytes
  EXPECT_TRUE(parse_string_header(str_head(l, 1024, 4, true, false), l, 4096));
  auto head = str_head(l, 3, 1, true, true);
  head.resize(l.unicode_ascii_size - 1);  // truncated copy
  EXPECT_FALSE(parse_string_header(head, l, 4096));
  // ASCII flag with a byte >= 128, and data of the wrong size.
  auto h = parse_string_header(str_head(l, 2, 1, true, true), l, 4096);
  EXPECT_EQ(decode_string_data(units<uint8_t>({'a', 0xff}), *h), std::nullopt);
  EXPECT_EQ(decode_string_data(units<uint8_t>({'a'}), *h), std::nullopt);
}

TEST_P(StringTest, RandomHeadersAreRefusedOrConsistent) {
  Layout l = layout();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> head(l.unicode_ascii_size);
    for (auto& b : head) b = static_cast<std::byte>(rng());
    auto h = parse_string_header(head, l, kMaxStringBytes);
    if (!h) continue;
    EXPECT_LE(h->data_bytes, kMaxStringBytes);
    EXPECT_EQ(h->data_bytes, h->length * static_cast<size_t>(h->kind));
    std::vector<std::byte> data(h->data_bytes);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    if (auto text = decode_string_data(data, *h)) {
      EXPECT_LE(text->size(), 4 * h->length);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, StringTest, ::testing::Values(8, 9, 10, 11, 12),
                         [](const auto& info) { return "3_" + std::to_string(info.param); });

TEST(BytesObject, SizeIsBounded) {
  Layout l = *builtin_layout(11);
  std::vector<std::byte> head(l.bytes_sval);
  int64_t size = 300;
  std::memcpy(head.data() + l.bytes_size, &size, 8);
  EXPECT_EQ(parse_bytes_size(head, l, kMaxLineTableBytes), 300u);
  size = -5;
  std::memcpy(head.data() + l.bytes_size, &size, 8);
  EXPECT_EQ(parse_bytes_size(head, l, kMaxLineTableBytes), std::nullopt);
  size = kMaxLineTableBytes + 1;
  std::memcpy(head.data() + l.bytes_size, &size, 8);
  EXPECT_EQ(parse_bytes_size(head, l, kMaxLineTableBytes), std::nullopt);
  head.resize(l.bytes_size + 7);
  EXPECT_EQ(parse_bytes_size(head, l, kMaxLineTableBytes), std::nullopt);
}

// A 3.13-shaped _Py_DebugOffsets: cookie, version, then (size, offsets...) groups.
std::vector<std::byte> debug_offsets(uint64_t version_hex) {
  std::vector<std::byte> b(kDebugOffsetsBytes);
  std::memcpy(b.data(), "xdebugpy", 8);
  std::memcpy(b.data() + 8, &version_hex, 8);
  // Every group's size 4096 and each offset small: plausible everywhere.
  for (size_t at = 24; at + 8 <= b.size(); at += 8) {
    uint64_t v = 64;
    std::memcpy(b.data() + at, &v, 8);
  }
  for (size_t size_at : {24, 48, 152, 224, 272, 352, 368, 400, 424, 448, 472, 488, 512, 536, 568}) {
    uint64_t v = 4096;
    std::memcpy(b.data() + size_at, &v, 8);
  }
  return b;
}

TEST(DebugOffsets, ChecksCookieVersionBuildAndBounds) {
  Version v313{3, 13, 0};
  auto good = debug_offsets(0x030d00f0);
  auto parsed = layout_from_debug_offsets(good, v313);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->frame_model, FrameModel::kShimFrames);
  EXPECT_EQ(parsed->unicode_ascii_size, 64u);

  auto truncated = std::span<const std::byte>(good).first(100);
  EXPECT_EQ(layout_from_debug_offsets(truncated, v313).error().message(),
            "_Py_DebugOffsets: 100 bytes, need 584");

  auto cookie = good;
  cookie[0] = std::byte{'y'};
  EXPECT_EQ(layout_from_debug_offsets(cookie, v313).error().message(),
            "_Py_DebugOffsets: no \"xdebugpy\" cookie at _PyRuntime");

  EXPECT_EQ(layout_from_debug_offsets(debug_offsets(0x030c01f0), v313).error().message(),
            "_Py_DebugOffsets declares version 3.12.1 but the binary is 3.13.0");
  auto v314 = layout_from_debug_offsets(debug_offsets(0x030e00f0), Version{3, 14, 0});
  EXPECT_EQ(v314.error().code(), ErrorCode::kUnsupported);

  auto free_threaded = good;
  free_threaded[16] = std::byte{1};
  EXPECT_EQ(layout_from_debug_offsets(free_threaded, v313).error().message(),
            "free-threaded CPython builds are not supported");

  auto outside = good;
  uint64_t far = 5000;  // thread_state.native_thread_id beyond thread_state.size
  std::memcpy(outside.data() + 200, &far, 8);
  EXPECT_EQ(layout_from_debug_offsets(outside, v313).error().message(),
            "_Py_DebugOffsets: an offset lies outside its structure");
}

TEST(DebugOffsets, RandomBytesAfterTheCookieNeverGiveAnOutOfBoundsLayout) {
  std::mt19937_64 rng(3);
  Version v313{3, 13, 0};
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    auto b = debug_offsets(0x030d00f0);
    for (int k = 0; k < 8; ++k) {
      size_t at = 24 + (rng() % ((kDebugOffsetsBytes - 24) / 8)) * 8;
      uint64_t v = (rng() & 1) ? rng() : rng() % 8192;
      std::memcpy(b.data() + at, &v, 8);
    }
    auto l = layout_from_debug_offsets(b, v313);
    if (!l) continue;
    ++accepted;
    EXPECT_LT(l->frame_size, 1u << 23);
    EXPECT_LT(l->code_size, 1u << 23);
  }
  EXPECT_GT(accepted, 0);
}

std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

TEST(VersionFromRodata, FindsPyVersionEvenAsThePrefixTail) {
  using namespace std::string_view_literals;
  auto v = version_from_rodata(as_bytes("abc\0/root/.pyenv/versions/3.8.18\0lib/python3.8\0"sv));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(to_string(*v), "3.8.18");
  EXPECT_EQ(to_string(*version_from_rodata(as_bytes("\0" "3.10.0rc1\0"sv))), "3.10.0");
  EXPECT_EQ(to_string(*version_from_rodata(as_bytes("\0" "3.9.2+\0"sv))), "3.9.2");
  // Not versions: part of a longer number, no terminator, two parts only.
  EXPECT_FALSE(version_from_rodata(as_bytes("\0" "13.8.1\0 3.8.1x\0 3.8\0"sv)));
  // Two different candidates: refuse to guess.
  EXPECT_FALSE(version_from_rodata(as_bytes("\0" "3.8.1\0" "3.9.1\0"sv)));
  EXPECT_FALSE(version_from_rodata({}));
}

}  // namespace
}  // namespace ember::python
