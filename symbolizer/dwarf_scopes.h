#pragma once
// The tree of functions and inlined calls of one compilation unit, read straight from
// .debug_info and .debug_abbrev. This is the cold path of every symbolization (each unit is
// walked once, on its first lookup); reading the bytes directly, with the fixed size of most
// DIEs known from their abbreviation, is several times faster than libdw's generic DIE calls.
// libdw still answers what this walker does not decode (DW_AT_ranges lists, names).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace ember::symbolizer {

// A function with code (DW_TAG_subprogram) or an inlined call (DW_TAG_inlined_subroutine).
// Scope 0 of each unit is a virtual root whose children are the unit's functions.
struct Scope {
  uint64_t die = 0;  // section offset of the DIE, for its name (resolved on first use)
  uint32_t children_first = 0;  // into the unit's ranges
  uint32_t children_count = 0;
  // Where this scope was inlined (in its parent): the line its parent's frame shows.
  uint32_t call_file = 0;
  uint32_t call_line = 0;
  uint32_t call_column = 0;
};

struct ScopeRange {
  uint64_t start;
  uint64_t end;
  uint32_t scope;
  uint32_t parent;
};

// Nesting deeper than this is not real code; a hostile file cannot make a walk unbounded.
inline constexpr int kMaxDieDepth = 256;

struct UnitLayout {
  uint64_t unit_offset = 0;  // section offset of the unit header (CU-relative references)
  uint64_t die_offset = 0;   // section offset of the unit's DIE
  uint64_t end = 0;          // section offset of the next unit
  uint64_t abbrev_offset = 0;
  uint16_t version = 0;
  uint8_t address_size = 8;
  uint8_t offset_size = 4;
  std::optional<uint64_t> addr_base;      // DW_AT_addr_base, for DW_FORM_addrx
  std::optional<uint64_t> rnglists_base;  // DW_AT_rnglists_base, for DW_FORM_rnglistx
  uint64_t base_address = 0;              // the unit's DW_AT_low_pc: range lists are relative to it
};

struct DebugInfoSections {
  std::span<const std::byte> info;
  std::span<const std::byte> abbrev;
  std::span<const std::byte> addr;
  std::span<const std::byte> ranges;    // DWARF 2-4
  std::span<const std::byte> rnglists;  // DWARF 5
};

// Reads a DW_AT_ranges list (value as given by its form) into `out`; false when it cannot
// (a missing section, a malformed list): the caller asks libdw.
bool read_range_list(const DebugInfoSections& sections, const UnitLayout& unit, uint32_t form, uint64_t value,
                     std::vector<std::pair<uint64_t, uint64_t>>& out);

// The code ranges of the DIE at a section offset, for encodings the walker leaves to libdw.
using RangesOf = std::function<void(uint64_t die_offset, std::vector<std::pair<uint64_t, uint64_t>>&)>;

// Appends the unit's scopes (after the root, which must be scopes[0]) and their ranges (not yet
// grouped). False when the unit uses something this reader does not know (an unknown form, a
// malformed abbreviation): the caller then walks it with libdw.
bool read_scopes(const DebugInfoSections& sections, const UnitLayout& unit, const RangesOf& ranges_of,
                 std::vector<Scope>& scopes, std::vector<ScopeRange>& ranges);

// Code ranges worth indexing: empty, zero-based (functions removed by --gc-sections keep address
// 0) and tombstoned (lld's -1/-2) ranges are not code.
inline bool is_code_range(uint64_t start, uint64_t end) { return start != 0 && end > start && start < UINT64_MAX - 1; }

}  // namespace ember::symbolizer
