// CPython line tables read from a target's memory (python::line_for_offset), in each format:
// 3.8–3.9 co_lnotab, 3.10 co_linetable (PEP 626), 3.11+ location entries with varints. The
// table bytes come from a process ember does not trust: torn, truncated or hostile.
//
// Input: a format byte (its value modulo 3), a 4-byte first line, an 8-byte instruction offset
// (both little-endian, any value, negative ones too), then the table.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "python/line_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 13) return 0;
  using ember::python::LineTableFormat;
  constexpr LineTableFormat kFormats[] = {LineTableFormat::kLnotab, LineTableFormat::kLinetable310,
                                          LineTableFormat::kLocations311};
  const LineTableFormat format = kFormats[data[0] % 3];
  int32_t first_line;
  int64_t offset;
  std::memcpy(&first_line, data + 1, 4);
  std::memcpy(&offset, data + 5, 8);
  const std::span<const std::byte> table(reinterpret_cast<const std::byte*>(data + 13), size - 13);
  // The offset as given, and every instruction the table could cover: a reader asks for any.
  volatile int32_t sink = 0;
  if (auto line = ember::python::line_for_offset(format, table, first_line, offset)) sink = sink + *line;
  for (int64_t at = -2; at < static_cast<int64_t>(table.size()) * 4 + 4; at += 2) {
    if (auto line = ember::python::line_for_offset(format, table, first_line, at)) sink = sink + *line;
  }
  return 0;
}
