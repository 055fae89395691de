#pragma once
// The call-frame information (CFI) of one binary, prepared once for the DWARF unwinder and
// shared by every process that maps the binary (tables are keyed by build-id).
//
// libunwind's remote interface finds an FDE through an .eh_frame_hdr-style binary-search table
// (UNW_INFO_FORMAT_REMOTE_TABLE) and then reads the table, the FDE and its CIE through our
// access_mem. The unwinder serves those reads from the copies held here, at a "CFI address
// space" of its own: table `slot` is visible at kCfiSpaceBase + slot * kCfiSlotSize + link-time
// address. One table therefore serves every load address (the unwinder converts the IP to the
// link-time view and the FDE's range back), and reads of CFI never touch the target process.
//
// Sources, in order of preference:
//   .eh_frame_hdr (with its sorted table)           the binary's own table and .eh_frame
//   .eh_frame without a usable .eh_frame_hdr        a table built here by walking .eh_frame
//   .debug_frame (no or partial .eh_frame)          converted to .eh_frame form, merged with
//                                                   whatever .eh_frame covers, table built here
// (cfi_parse.h reads the sections, debug_frame.h converts .debug_frame, unwind_table_cache.h
// keeps the tables per binary.)
//
// Everything read from the file is untrusted: every length, offset and pointer is checked, and
// the copies are made with pread (no long-lived mmap that a truncated file could turn into SIGBUS).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "collector/cfi_parse.h"
#include "collector/cfi_rows.h"
#include "collector/debug_frame.h"
#include "common/error.h"
#include "common/types.h"
#include "profile/raw_profile.h"

namespace ember::elf {
class ElfFile;
struct LoadSegment;
}  // namespace ember::elf

namespace ember::collector {

// Where the unwinder shows CFI to libunwind: far above any user address (x86-64 user space ends
// below 2^47, or 2^56 with 5-level paging), one 2^40-byte window per table.
inline constexpr uint64_t kCfiSpaceBase = uint64_t{1} << 60;
inline constexpr int kCfiSlotShift = 40;
inline constexpr uint64_t kCfiSlotSize = uint64_t{1} << kCfiSlotShift;
inline constexpr uint32_t kCfiMaxSlots = 1u << 19;  // base + slots * size stays below 2^60 + 2^59

class UnwindTable {
 public:
  enum class Source { kEhFrameHdr, kEhFrame, kDebugFrame };

  // Reads the CFI of an opened ELF file. An error when it has none that ember can use.
  [[nodiscard]] static Result<std::unique_ptr<UnwindTable>> load(const elf::ElfFile& file);
  // For tests and synthetic binaries: a table over given sections (eh_frame_hdr may be empty).
  struct Sections {
    std::vector<elf::LoadSegment> segments;
    std::span<const std::byte> eh_frame_hdr;
    uint64_t eh_frame_hdr_address = 0;
    std::span<const std::byte> eh_frame;
    uint64_t eh_frame_address = 0;
    std::span<const std::byte> debug_frame;
  };
  [[nodiscard]] static Result<std::unique_ptr<UnwindTable>> build(const Sections& sections, std::string name);

  ~UnwindTable();

  Source source() const { return source_; }
  const std::string& name() const { return name_; }
  // What libunwind's dwarf_search_unwind_table takes, as link-time addresses.
  uint64_t segbase() const { return segbase_; }
  uint64_t table_address() const { return table_address_; }
  uint64_t fde_count() const { return fde_count_; }
  uint64_t text_start() const { return text_start_; }  // executable PT_LOADs
  uint64_t text_end() const { return text_end_; }

  // The link-time address of a file offset inside an executable PT_LOAD.
  std::optional<uint64_t> link_address(uint64_t file_offset) const;
  // Reads the 8 bytes at link-time `address` in the table's view: the CFI copies, the indirect
  // pointer words kept at load, zeros in .bss. False for anything else.
  bool read_word(uint64_t address, uint64_t& out) const;
  // The FDE the table lists for a link-time pc (the entry libunwind's search would pick, with
  // the FDE's own range checked), for tests and diagnostics.
  std::optional<FdeRange> find_fde(uint64_t pc) const;

  // The CFI compiled into rows (cfi_rows.h), addresses relative to text_start().
  const CompiledCfi& compiled() const { return compiled_; }

  size_t memory_bytes() const;

 private:
  struct Region {
    uint64_t start = 0;  // 8-aligned
    std::vector<std::byte> bytes;
  };
  struct Segment {
    uint64_t vaddr, file_offset, file_size, mem_size;
    bool executable;
  };
  UnwindTable() = default;
  const Region* region_for(uint64_t address, size_t size) const;
  std::span<const std::byte> bytes_from(uint64_t address) const;
  bool read_bytes(uint64_t address, void* out, size_t size) const;
  void add_region(uint64_t start, std::span<const std::byte> bytes);
  void compile();

  std::string name_;
  Source source_ = Source::kEhFrameHdr;
  uint64_t segbase_ = 0;
  uint64_t table_address_ = 0;
  uint64_t fde_count_ = 0;
  uint64_t text_start_ = 0;
  uint64_t text_end_ = 0;
  std::vector<Segment> segments_;
  std::vector<Region> regions_;
  std::vector<std::pair<uint64_t, uint64_t>> words_;  // aligned address -> word, sorted
  CompiledCfi compiled_;
};

}  // namespace ember::collector
