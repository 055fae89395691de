// Line-table decoders against the real interpreters: tests/python/scripts/dump_lines.py prints
// each code object's raw table and the line CPython gives for every instruction offset (from
// co_lines() on 3.10+, dis.findlinestarts before); the decoders must give the same lines.
// Then the same decoders on truncated and garbage tables: an answer or "unknown", never a read
// past the table.

#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "python/line_table.h"
#include "tests/python/interpreters.h"
#include "tests/support/process.h"

namespace ember::python {
namespace {

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  if (hex == "-") return out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

LineTableFormat format_for(int minor) {
  if (minor <= 9) return LineTableFormat::kLnotab;
  if (minor == 10) return LineTableFormat::kLinetable310;
  return LineTableFormat::kLocations311;
}

class LineTableTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LineTableTest, SameLinesAsTheInterpreterForEveryInstruction) {
  auto python = testing::interpreter_path(GetParam());
  if (!python) GTEST_SKIP() << "CPython " << GetParam() << " is not installed on this machine";
  std::string version = testing::reported_version(*python);
  int minor = std::stoi(version.substr(2));
  auto run = ember::testing::run(
      {*python, std::string(EMBER_SOURCE_DIR) + "/tests/python/scripts/dump_lines.py"});
  ASSERT_EQ(run.exit_code, 0) << run.err;

  std::istringstream in(run.out);
  std::string kind;
  std::vector<std::byte> table;
  int32_t first_line = 0;
  size_t compared = 0, codes = 0, no_line = 0;
  int32_t max_line = 0;
  while (in >> kind) {
    if (kind == "C") {
      std::string hex;
      in >> first_line >> hex;
      table = from_hex(hex);
      ++codes;
      continue;
    }
    int64_t offset = 0;
    int32_t want = 0;
    in >> offset >> want;
    auto got = line_for_offset(format_for(minor), table, first_line, offset);
    if (want < 0) {
      ++no_line;
      EXPECT_FALSE(got.has_value()) << "CPython " << version << " offset " << offset
                                    << " has no line, ember says " << got.value_or(0);
    } else {
      EXPECT_EQ(got.value_or(-1), want) << "CPython " << version << " offset " << offset
                                        << " of the code object at line " << first_line;
      max_line = std::max(max_line, want);
    }
    ++compared;
  }
  EXPECT_GE(codes, 9u);
  EXPECT_GE(compared, 150u);
  EXPECT_GT(max_line, 70000) << "the far-away function (line deltas beyond one byte) was checked";
  std::printf("CPython %s: %zu offsets of %zu code objects compared (%zu without a line)\n",
              version.c_str(), compared, codes, no_line);
}

INSTANTIATE_TEST_SUITE_P(Interpreters, LineTableTest,
                         ::testing::Values("3_8", "3_9", "3_10", "3_11", "3_12", "3_13",
                                           "debian_3_11"),
                         [](const auto& info) { return info.param; });

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

TEST(LineTableDecoders, NegativeOffsetIsTheFirstLine) {
  for (auto format : {LineTableFormat::kLnotab, LineTableFormat::kLinetable310,
                      LineTableFormat::kLocations311}) {
    EXPECT_EQ(line_for_offset(format, {}, 42, -2), 42);
  }
}

TEST(LineTableDecoders, LnotabAccumulatesSignedDeltas) {
  // offsets 0..5 at line 10, 6..9 at 12, 10.. at 11 (a negative delta)
  auto t = bytes({6, 2, 4, 0xff});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLnotab, t, 10, 0), 10);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLnotab, t, 10, 6), 12);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLnotab, t, 10, 10), 11);
  // An odd trailing byte (a torn copy) is ignored, not read as half a pair.
  auto odd = bytes({6, 2, 4});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLnotab, odd, 10, 100), 12);
}

TEST(LineTableDecoders, Linetable310NoLineAndPastTheEnd) {
  // [0,4) line 5, [4,8) no line (-128), [8,10) line 7
  auto t = bytes({4, 0, 4, 0x80, 2, 2});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLinetable310, t, 5, 2), 5);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLinetable310, t, 5, 4), std::nullopt);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLinetable310, t, 5, 8), 7);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLinetable310, t, 5, 10), std::nullopt);
}

TEST(LineTableDecoders, LocationsEveryEntryForm) {
  // Entry heads: 0x80 | code << 3 | (length - 1).
  auto t = bytes({
      0x80 | (0 << 3) | 0, 5,                   // short form: same line (10), 1 unit
      0x80 | (11 << 3) | 1, 2, 8,               // one-line form +1 → 11, 2 units
      0x80 | (13 << 3) | 0, 6,                  // no columns, svarint 6 = +3 → 14
      0x80 | (14 << 3) | 0, 0x41, 0x01, 0, 1, 2,  // long form, signed varint (below)
      0x80 | (15 << 3) | 0,                     // no location
  });
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 10, 0), 10);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 10, 2), 11);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 10, 4), 11);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 10, 6), 14);
  // varint 0x41 0x01: 1 | (1 << 6) = 65, odd → -32: line 14 - 32 < 0 is impossible → unknown.
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 10, 8), std::nullopt);
  auto t2 = bytes({0x80 | (14 << 3) | 0, 0x40, 0x01, 0, 1, 2, 0x80 | (15 << 3) | 0});
  // varint 0x40 0x01: 0 | (1 << 6) = 64, even → +32.
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t2, 10, 0), 42);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t2, 10, 2), std::nullopt);
}

TEST(LineTableDecoders, LocationDeltaBeyondAnyLineIsUnknown) {
  // A long-form entry whose signed varint is ~2^62 (eleven 6-bit chunks, even: positive): no
  // line is that far from another; adding it to the line overflowed (found by the fuzzer).
  auto t = bytes({0x80 | (14 << 3) | 0, 0x40, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x3e, 0, 1, 2,
                  0x80 | (10 << 3) | 0, 0x80 | (15 << 3) | 0});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 4, 0), std::nullopt);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, t, 4, 2), std::nullopt);
}

TEST(LineTableDecoders, TruncatedLocationTablesAreUnknown) {
  // A long-form entry cut inside its varint, and a table that does not start at an entry.
  auto cut = bytes({0x80 | (14 << 3) | 0, 0x41});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, cut, 10, 0), std::nullopt);
  auto misaligned = bytes({0x05, 0x80});
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, misaligned, 10, 0), std::nullopt);
  // A varint that never ends within 64 bits.
  std::vector<std::byte> endless(1, static_cast<std::byte>(0x80 | (13 << 3)));
  endless.resize(40, static_cast<std::byte>(0x7f));
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations311, endless, 10, 0), std::nullopt);
}

TEST(LineTableDecoders, GarbageNeverReadsPastTheTable) {
  // Random tables of every length up to 64 bytes, each copied into an exactly-sized buffer so
  // that AddressSanitizer would see a read past it.
  std::mt19937 rng(7);
  size_t answered = 0;
  for (int round = 0; round < 20000; ++round) {
    size_t n = rng() % 65;
    auto table = std::make_unique<std::byte[]>(n ? n : 1);
    for (size_t i = 0; i < n; ++i) table[i] = static_cast<std::byte>(rng());
    std::span<const std::byte> span(table.get(), n);
    int64_t offset = static_cast<int64_t>(rng() % 256);
    for (auto format : {LineTableFormat::kLnotab, LineTableFormat::kLinetable310,
                        LineTableFormat::kLocations311}) {
      auto line = line_for_offset(format, span, 1000, offset);
      if (line) ++answered;
    }
  }
  EXPECT_GT(answered, 0u);
}

}  // namespace
}  // namespace ember::python
