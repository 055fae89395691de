#pragma once
// .debug_frame rewritten as .eh_frame, so that libunwind's remote table lookup serves both.
// libunwind 1.6 does not export its own .debug_frame reader (dwarf_find_debug_frame), and that
// one reads local memory only.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "collector/cfi_parse.h"

namespace ember::collector {

// .debug_frame rewritten as .eh_frame entries that will be served at link-time address `at`:
// CIE ids 0 and version 1 (or 3), augmentation "zR" with pcrel|sdata8 FDE pointers, CIE
// pointers made relative, instructions copied unchanged.
struct ConvertedCfi {
  std::vector<std::byte> bytes;
  std::vector<FdeRange> fdes;  // fde_address within [at, at + bytes.size())
  size_t skipped_entries = 0;  // CIEs with augmentations, other address sizes, segments, ...
};
ConvertedCfi convert_debug_frame(std::span<const std::byte> debug_frame, uint64_t at);

// Appends a value's bytes in host (little-endian) order.
template <class T>
void append_bytes(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof value);
}

}  // namespace ember::collector
