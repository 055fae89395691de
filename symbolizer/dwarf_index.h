#pragma once
// Source lines and inlined calls from DWARF (libdw), indexed so that a lookup is a few binary
// searches: compilation units by address range once, then per unit, on its first lookup, its
// line table and its tree of functions and inlined calls. DIE trees are never walked per address.
// libdw's headers stay in dwarf_index.cpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "elf/elf_file.h"
#include "symbolizer/symbolizer.h"

namespace ember::symbolizer {

class DwarfIndex {
 public:
  struct Settings {
    bool demangle = true;
    bool full_names = false;
    bool inline_frames = true;
    bool line_numbers = true;
    // Decoded units beyond this are dropped oldest first (and decoded again when needed).
    size_t max_bytes = size_t{256} << 20;
    // Walk DIE trees with libdw's generic calls instead of ember's own reader (tests compare them).
    bool libdw_walk = false;
  };

  // Whether `file` carries DWARF (.debug_info, or GNU-compressed .zdebug_info).
  static bool has_debug_info(const elf::ElfFile& file);

  // Reads the DWARF of `file` (the binary or its separate debug file), which must outlive the index.
  // An error when the file has no .debug_info or libdw cannot read it.
  [[nodiscard]] static Result<std::unique_ptr<DwarfIndex>> open(const elf::ElfFile& file, const Settings& settings);
  ~DwarfIndex();
  DwarfIndex(const DwarfIndex&) = delete;
  DwarfIndex& operator=(const DwarfIndex&) = delete;

  enum class Found {
    kNothing,    // no compilation unit covers the address
    kLine,       // a line but no function: one frame with an empty function name
    kFunctions,  // the function (and the functions inlined into it), innermost first
  };
  // Appends the frames for `address` (ELF virtual address) to `frames`.
  Found lookup(uint64_t address, std::vector<Frame>& frames);

  size_t memory_bytes() const;
  // Problems met in the data since the last call (a malformed line table), one line each naming
  // the file. Lookups go on around them.
  std::vector<std::string> take_errors();
  size_t compile_units() const;
  size_t decoded_units() const;  // units whose lines and functions are currently decoded

 private:
  struct Impl;
  explicit DwarfIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::symbolizer
