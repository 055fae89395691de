#pragma once
// A DWARF line-number program (versions 2 to 5) decoded straight into a compact, address-sorted
// table. ember decodes it itself rather than through libdw's dwarf_getsrclines, which allocates
// per row and sorts the whole unit: this is where most of a cold symbolization's time went.
// Every read is bounds-checked; a malformed program keeps the sequences decoded before the fault.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace ember::symbolizer {

struct LineRow {
  uint64_t address;
  uint32_t file;  // DWARF file number: index into LineTable::files
  uint32_t line;
  uint32_t column : 31;
  uint32_t end_sequence : 1;  // the first address after a sequence: no line here
};

struct LineTable {
  // Sorted by address; at one address an end of sequence comes first, then the rows in program
  // order (a lookup takes the last row at or before an address, as addr2line and LLVM do).
  std::vector<LineRow> rows;
  // By DWARF file number (DWARF 2-4 number from 1: entry 0 is empty), as full paths.
  std::vector<std::string> files;
  size_t memory_bytes() const;
  // The row that says where `address` is, or nullptr.
  const LineRow* find(uint64_t address) const;
};

struct LineSections {
  std::span<const std::byte> debug_line;
  std::span<const std::byte> debug_line_str;  // DWARF 5 DW_FORM_line_strp
  std::span<const std::byte> debug_str;       // DW_FORM_strp
};

// Decodes the program at `offset` in .debug_line. `comp_dir` completes relative directories.
// An error (naming the offset and the problem) when the header is unusable or the program is
// malformed; `out` then holds the complete sequences decoded before the problem.
[[nodiscard]] Result<void> decode_line_table(const LineSections& sections, uint64_t offset, std::string_view comp_dir,
                               LineTable& out);

}  // namespace ember::symbolizer
