#pragma once
// Reading call-frame information: .eh_frame_hdr, and the CIEs and FDEs of .eh_frame and
// .debug_frame. Everything is untrusted: every length, offset and pointer is checked, an entry
// that cannot be read is skipped and counted, a length that runs past the section ends a walk.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/byte_reader.h"
#include "common/error.h"

namespace ember::collector {

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
[[nodiscard]] Result<EhFrameHdr> parse_eh_frame_hdr(std::span<const std::byte> hdr, uint64_t hdr_address);

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

// The pieces the scan, the .debug_frame conversion and UnwindTable::find_fde share.
namespace cfi {

// A DW_EH_PE-encoded pointer whose field lies at link-time `field_address`. `datarel_base`:
// what datarel is relative to (the .eh_frame_hdr start in the header; unsupported elsewhere).
// False for an encoding ember does not read or a field past the end.
bool read_pointer(common::ByteReader& r, uint8_t encoding, uint64_t field_address,
                  std::optional<uint64_t> datarel_base, uint64_t& out, bool* indirect = nullptr);

// One CIE as much as FDE parsing and conversion need.
struct Cie {
  bool valid = false;
  uint8_t version = 0;
  std::string augmentation;
  uint64_t code_align = 0;
  int64_t data_align = 0;
  uint64_t return_register = 0;
  uint8_t fde_encoding = eh_pe::kAbsptr;
  uint8_t lsda_encoding = eh_pe::kOmit;
  bool sized_augmentation = false;
  uint8_t address_size = 8;
  uint8_t segment_size = 0;
  std::optional<uint64_t> indirect_personality;  // link-time address of the pointer
  size_t instructions = 0;  // offsets in the section
  size_t end = 0;
};

// The header of one entry: where its body starts and ends and what its id field says.
struct EntryHeader {
  size_t start = 0;      // offset of the length field
  size_t id_field = 0;   // offset of the CIE id / CIE pointer
  size_t body = 0;       // first byte after the id
  size_t end = 0;        // first byte after the entry
  bool dwarf64 = false;
  uint64_t id = 0;
  bool terminator = false;
};

// Reads an entry's header at `pos`. nullopt: the entry runs past the section (the walk ends).
std::optional<EntryHeader> read_header(std::span<const std::byte> section, size_t pos);
bool is_cie(const EntryHeader& h, CfiFormat format);
Cie parse_cie(std::span<const std::byte> section, uint64_t section_address, const EntryHeader& h, CfiFormat format);
// The CIE offset an FDE refers to, or nullopt when it points outside the section.
std::optional<size_t> cie_offset_of(const EntryHeader& h, CfiFormat format, size_t section_size);

// The CIE an FDE points at, parsed once per offset.
class CieCache {
 public:
  CieCache(std::span<const std::byte> section, uint64_t address, CfiFormat format)
      : section_(section), address_(address), format_(format) {}
  const Cie* at(size_t offset);
  const std::map<size_t, Cie>& all() const { return cies_; }

 private:
  std::span<const std::byte> section_;
  uint64_t address_;
  CfiFormat format_;
  std::map<size_t, Cie> cies_;
};

}  // namespace cfi
}  // namespace ember::collector
