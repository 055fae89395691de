// The DWARF line-program decoder on programs built byte by byte here: versions 4 and 5, sequences
// out of order, code the linker discarded, and every truncation of a valid program.

#include "symbolizer/line_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace ember::symbolizer {
namespace {

class Bytes {
 public:
  Bytes& u8(uint8_t v) {
    data_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  Bytes& u16(uint16_t v) { return fixed(v, 2); }
  Bytes& u32(uint32_t v) { return fixed(v, 4); }
  Bytes& u64(uint64_t v) { return fixed(v, 8); }
  Bytes& fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes& uleb(uint64_t v) {
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      u8(v != 0 ? (b | 0x80) : b);
    } while (v != 0);
    return *this;
  }
  Bytes& sleb(int64_t v) {
    for (;;) {
      uint8_t b = v & 0x7f;
      v >>= 7;
      bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
      u8(done ? b : (b | 0x80));
      if (done) return *this;
    }
  }
  Bytes& str(std::string_view s) {
    for (char c : s) u8(static_cast<uint8_t>(c));
    return u8(0);
  }
  Bytes& append(const Bytes& other) {
    data_.insert(data_.end(), other.data_.begin(), other.data_.end());
    return *this;
  }
  size_t size() const { return data_.size(); }
  const std::vector<std::byte>& data() const { return data_; }

 private:
  std::vector<std::byte> data_;
};

constexpr uint8_t kOpcodeBase = 13;
constexpr int kLineBase = -5;
constexpr uint8_t kLineRange = 14;

Bytes standard_header_fields() {
  Bytes b;
  b.u8(1).u8(1).u8(1);  // min_inst_length, max_ops, default_is_stmt
  b.u8(static_cast<uint8_t>(kLineBase)).u8(kLineRange).u8(kOpcodeBase);
  for (uint8_t n : {0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1}) b.u8(n);
  return b;
}

Bytes program() {
  Bytes p;
  // Sequence 1 at 0x1000.
  p.u8(0).uleb(9).u8(2).u64(0x1000);  // DW_LNE_set_address
  p.u8(3).sleb(9);                    // advance_line: 10
  p.u8(1);                            // copy
  uint8_t special = static_cast<uint8_t>((1 - kLineBase) + kLineRange * 4 + kOpcodeBase);
  p.u8(special);                      // address +4, line +1
  p.u8(4).uleb(2);                    // set_file 2
  p.u8(5).uleb(7);                    // set_column 7
  p.u8(2).uleb(8);                    // advance_pc 8
  p.u8(1);                            // copy
  p.u8(2).uleb(4);
  p.u8(0).uleb(1).u8(1);              // end_sequence at 0x1010
  // Code the linker discarded: its address was resolved to 0.
  p.u8(0).uleb(9).u8(2).u64(0);
  p.u8(1).u8(2).uleb(4).u8(0).uleb(1).u8(1);
  // Sequence 2, lower in memory than sequence 1.
  p.u8(0).uleb(9).u8(2).u64(0x800);
  p.u8(1).u8(2).uleb(0x10).u8(0).uleb(1).u8(1);
  return p;
}

Bytes unit(uint16_t version, const Bytes& header_rest, const Bytes& program) {
  Bytes after_length;
  after_length.u16(version);
  if (version >= 5) after_length.u8(8).u8(0);
  after_length.u32(static_cast<uint32_t>(header_rest.size())).append(header_rest).append(program);
  Bytes out;
  out.u32(static_cast<uint32_t>(after_length.size())).append(after_length);
  return out;
}

Bytes v4_unit() {
  Bytes header = standard_header_fields();
  header.str("inc").u8(0);                                  // include_directories
  header.str("a.c").uleb(0).uleb(0).uleb(0);                // file 1
  header.str("b.h").uleb(1).uleb(0).uleb(0).u8(0);          // file 2, end
  return unit(4, header, program());
}

void expect_rows(const LineTable& table, const std::string& a, const std::string& b) {
  ASSERT_EQ(table.rows.size(), 6u);
  auto at = [&](uint64_t address) { return table.find(address); };
  ASSERT_NE(at(0x800), nullptr);
  EXPECT_EQ(at(0x80f)->line, 1u);
  EXPECT_EQ(at(0x810), nullptr);  // end of sequence 2
  EXPECT_EQ(at(0x900), nullptr);
  EXPECT_EQ(at(0x0), nullptr);    // the discarded sequence left nothing
  EXPECT_EQ(at(0x10), nullptr);
  ASSERT_NE(at(0x1002), nullptr);
  EXPECT_EQ(at(0x1002)->line, 10u);
  EXPECT_EQ(table.files.at(at(0x1002)->file), a);
  EXPECT_EQ(at(0x1008)->line, 11u);
  EXPECT_EQ(at(0x100c)->line, 11u);
  EXPECT_EQ(at(0x100c)->column, 7u);
  EXPECT_EQ(table.files.at(at(0x100f)->file), b);
  EXPECT_EQ(at(0x1010), nullptr);
}

TEST(LineTable, DecodesVersion4) {
  Bytes section = v4_unit();
  LineTable table;
  auto result = decode_line_table(LineSections{section.data(), {}, {}}, 0, "/comp", table);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(table.files.size(), 3u);  // numbered from 1
  expect_rows(table, "/comp/a.c", "/comp/inc/b.h");
}

TEST(LineTable, DecodesVersion5WithLineStrings) {
  Bytes line_str;
  line_str.str("/comp").str("inc");
  Bytes header = standard_header_fields();
  header.u8(1).uleb(0x1).uleb(0x1f);        // directories: path as line_strp
  header.uleb(2).u32(0).u32(6);             // "/comp", "inc"
  header.u8(2).uleb(0x1).uleb(0x08).uleb(0x2).uleb(0x0f);  // files: path string, dir udata
  header.uleb(3).str("a.c").uleb(0).str("a.c").uleb(0).str("b.h").uleb(1);
  Bytes section = unit(5, header, program());
  LineTable table;
  auto result = decode_line_table(LineSections{section.data(), line_str.data(), {}}, 0, "/ignored", table);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(table.files.size(), 3u);  // numbered from 0
  expect_rows(table, "/comp/a.c", "/comp/inc/b.h");
}

TEST(LineTable, EveryTruncationIsRefusedOrPartialNeverACrash) {
  Bytes full = v4_unit();
  for (size_t length = 0; length < full.size(); ++length) {
    std::vector<std::byte> cut(full.data().begin(), full.data().begin() + length);
    LineTable table;
    auto result = decode_line_table(LineSections{cut, {}, {}}, 0, "/comp", table);
    EXPECT_FALSE(result) << length;
    EXPECT_EQ(result.error().message().rfind("line table at .debug_line+0x0: ", 0), 0u);
  }
  // A unit whose length field is honest but whose program stops mid-sequence keeps the
  // sequences that ended.
  Bytes p = program();
  std::vector<std::byte> partial(p.data().begin(), p.data().end() - 3);
  Bytes header = standard_header_fields();
  header.str("inc").u8(0).str("a.c").uleb(0).uleb(0).uleb(0).str("b.h").uleb(1).uleb(0).uleb(0).u8(0);
  Bytes partial_program;
  for (std::byte b : partial) partial_program.u8(std::to_integer<uint8_t>(b));
  Bytes section = unit(4, header, partial_program);
  LineTable table;
  auto result = decode_line_table(LineSections{section.data(), {}, {}}, 0, "/comp", table);
  ASSERT_TRUE(result) << result.error().message();
  ASSERT_NE(table.find(0x1002), nullptr);
  EXPECT_EQ(table.find(0x1002)->line, 10u);
  EXPECT_EQ(table.find(0x800), nullptr);  // its sequence never ended
}

TEST(LineTable, BadOffsetsAndVersionsAreErrors) {
  Bytes section = v4_unit();
  LineTable table;
  EXPECT_FALSE(decode_line_table(LineSections{section.data(), {}, {}}, section.size(), "", table));
  Bytes bad = unit(7, standard_header_fields(), program());
  auto result = decode_line_table(LineSections{bad.data(), {}, {}}, 0, "", table);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message(), "line table at .debug_line+0x0: unsupported version 7");
}

}  // namespace
}  // namespace ember::symbolizer
