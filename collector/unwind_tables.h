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
// libunwind 1.6 does not export its own .debug_frame reader (dwarf_find_debug_frame), and that
// one reads local memory only: the conversion is what lets the remote table format serve both.
//
// Everything read from the file is untrusted: every length, offset and pointer is checked, and
// the copies are made with pread (no long-lived mmap that a truncated file could turn into SIGBUS).

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

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

// DW_EH_PE_* pointer encodings (.eh_frame, .eh_frame_hdr).
namespace eh_pe {
inline constexpr uint8_t kAbsptr = 0x00, kUleb128 = 0x01, kUdata2 = 0x02, kUdata4 = 0x03,
                         kUdata8 = 0x04, kSleb128 = 0x09, kSdata2 = 0x0a, kSdata4 = 0x0b,
                         kSdata8 = 0x0c, kPcrel = 0x10, kTextrel = 0x20, kDatarel = 0x30,
                         kFuncrel = 0x40, kAligned = 0x50, kIndirect = 0x80, kOmit = 0xff;
}

// One FDE: the link-time range it covers and where it starts (link-time address of its length
// field, in the view the table serves).
struct FdeRange {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t fde_address = 0;
  bool operator==(const FdeRange&) const = default;
};

// .eh_frame_hdr, parsed and checked against the section's bytes.
struct EhFrameHdr {
  uint64_t eh_frame_address = 0;  // link-time, decoded from eh_frame_ptr
  uint64_t table_address = 0;     // link-time address of the first table entry
  uint64_t fde_count = 0;         // 0 when the header has no usable sorted table
  bool has_table = false;         // table_enc is datarel|sdata4 (the only form libunwind searches)
};
// `hdr` holds the whole section, found at link-time address `hdr_address`. An error for a
// header that cannot be right (version, encodings, a table running past the section).
Result<EhFrameHdr> parse_eh_frame_hdr(std::span<const std::byte> hdr, uint64_t hdr_address);

enum class CfiFormat { kEhFrame, kDebugFrame };

// What walking a CFI section finds. Entries that cannot be read are skipped and counted; a
// length that runs past the section ends the walk.
struct CfiScan {
  std::vector<FdeRange> fdes;  // fde_address = section_address + offset of the FDE
  // Link-time addresses of personality-routine pointers stored indirectly (DW_EH_PE_indirect):
  // libunwind dereferences them while parsing a CIE, so the table keeps those words.
  std::vector<uint64_t> indirect_pointers;
  size_t bad_entries = 0;
  bool truncated = false;
};
CfiScan scan_cfi(std::span<const std::byte> section, uint64_t section_address, CfiFormat format);

// .debug_frame rewritten as .eh_frame entries that will be served at link-time address `at`:
// CIE ids 0 and version 1 (or 3), augmentation "zR" with pcrel|sdata8 FDE pointers, CIE
// pointers made relative, instructions copied unchanged.
struct ConvertedCfi {
  std::vector<std::byte> bytes;
  std::vector<FdeRange> fdes;  // fde_address within [at, at + bytes.size())
  size_t skipped_entries = 0;  // CIEs with augmentations, other address sizes, segments, ...
};
ConvertedCfi convert_debug_frame(std::span<const std::byte> debug_frame, uint64_t at);

class UnwindTable {
 public:
  enum class Source { kEhFrameHdr, kEhFrame, kDebugFrame };

  // Reads the CFI of an opened ELF file. An error when it has none that ember can use.
  static Result<std::unique_ptr<UnwindTable>> load(const elf::ElfFile& file);
  // For tests and synthetic binaries: a table over given sections (eh_frame_hdr may be empty).
  struct Sections {
    std::vector<elf::LoadSegment> segments;
    std::span<const std::byte> eh_frame_hdr;
    uint64_t eh_frame_hdr_address = 0;
    std::span<const std::byte> eh_frame;
    uint64_t eh_frame_address = 0;
    std::span<const std::byte> debug_frame;
  };
  static Result<std::unique_ptr<UnwindTable>> build(const Sections& sections, std::string name);

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
};

struct UnwindTableStats {
  uint64_t loaded = 0;         // binaries whose CFI was read
  uint64_t from_debug_frame = 0;
  uint64_t without_cfi = 0;    // binaries that could not be opened or have no usable CFI
  uint64_t evicted = 0;
  uint64_t bytes = 0;          // held now
  uint64_t tables = 0;         // held now
};

// Unwind tables by binary, shared across processes, bounded by count and bytes (least recently
// used first out). Eviction happens only in trim(), between samples, so a table found during
// one sample's unwind stays valid until it ends; every eviction bumps generation() so that the
// unwinder can drop libunwind's caches, which may point into evicted tables.
class UnwindTableCache {
 public:
  struct Limits {
    size_t max_tables = 512;
    size_t max_bytes = size_t{256} << 20;
  };
  explicit UnwindTableCache(Limits limits);
  UnwindTableCache() : UnwindTableCache(Limits{}) {}
  ~UnwindTableCache();

  struct Found {
    const UnwindTable* table = nullptr;  // null: the binary has no usable CFI
    uint32_t slot = 0;
  };
  // The table of a mapped module (kFile or kVdso), loading it the first time.
  Found find(const profile::Module& module);
  // The table in a slot (for reads of the CFI address space); null when none.
  const UnwindTable* in_slot(uint32_t slot) const;
  // Evicts past the limits.
  void trim();
  uint64_t generation() const { return generation_; }
  const UnwindTableStats& stats() const { return stats_; }

  // Inserts a prepared table under `key` (tests; the vDSO).
  Found insert(const std::string& key, std::unique_ptr<UnwindTable> table);

 private:
  struct Entry {
    std::string key;
    std::unique_ptr<UnwindTable> table;  // null: negative entry
    uint32_t slot = 0;
    size_t bytes = 0;
  };
  using Lru = std::list<Entry>;
  std::unique_ptr<UnwindTable> load_module(const profile::Module& module);
  std::unique_ptr<UnwindTable> load_vdso();
  Found touch(Lru::iterator it);

  Limits limits_;
  Lru lru_;  // most recently used first
  std::unordered_map<std::string, Lru::iterator> by_key_;
  std::unordered_map<uint32_t, const UnwindTable*> by_slot_;
  uint32_t next_slot_ = 0;
  size_t bytes_ = 0;
  uint64_t generation_ = 0;
  UnwindTableStats stats_;
};

// The cache key of a module's binary: its build-id, else device and inode, else its path.
std::string unwind_table_key(const profile::Module& module);

}  // namespace ember::collector
