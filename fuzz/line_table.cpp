// The DWARF line-number program decoder (versions 2 to 5) on its own.
//
// Input: three sections, each a 4-byte little-endian length then its bytes: .debug_line,
// .debug_line_str, .debug_str (what is left over when a length runs past the input goes to the
// section being read). Every program in .debug_line is decoded, one after the other, as the
// symbolizer decodes the program of each compilation unit.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "symbolizer/line_table.h"

namespace {

std::span<const std::byte> take_section(std::span<const std::byte>& in) {
  if (in.size() < 4) {
    auto all = in;
    in = {};
    return all;
  }
  uint32_t length;
  std::memcpy(&length, in.data(), 4);
  in = in.subspan(4);
  const size_t n = std::min<size_t>(length, in.size());
  auto out = in.first(n);
  in = in.subspan(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::symbolizer;
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  LineSections sections;
  sections.debug_line = take_section(in);
  sections.debug_line_str = take_section(in);
  sections.debug_str = take_section(in);
  // Units follow each other: a unit's length field says where the next one starts.
  uint64_t offset = 0;
  for (int unit = 0; unit < 64 && offset + 4 <= sections.debug_line.size(); ++unit) {
    LineTable table;
    (void)decode_line_table(sections, offset, "/fuzz", table);
    for (const LineRow& row : table.rows) (void)table.find(row.address);
    uint32_t length;
    std::memcpy(&length, sections.debug_line.data() + offset, 4);
    if (length == 0xffffffffu) {
      if (offset + 12 > sections.debug_line.size()) break;
      uint64_t length64;
      std::memcpy(&length64, sections.debug_line.data() + offset + 4, 8);
      if (length64 > sections.debug_line.size()) break;
      offset += 12 + length64;
    } else {
      offset += 4 + uint64_t{length};
    }
  }
  return 0;
}
