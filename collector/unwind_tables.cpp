#include "collector/unwind_tables.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <spdlog/spdlog.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "common/unique_fd.h"
#include "elf/elf_file.h"

namespace ember::collector {

namespace {

constexpr uint8_t kCfaNop = 0x00;
// Where a synthesized table and converted .debug_frame go: above the binary's image, inside the
// slot, near enough to the code for the table's 32-bit offsets.
constexpr uint64_t kSynthesizedGap = 0x10000;
// Larger CFI sections than this are refused (a hostile size field must not make ember allocate
// gigabytes); the biggest real binaries have a few tens of MiB.
constexpr uint64_t kMaxSectionBytes = uint64_t{512} << 20;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Bounds-checked little-endian reads from one CFI section.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, size_t pos = 0) : bytes_(bytes), pos_(pos) {}
  size_t pos() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }
  size_t size() const { return bytes_.size(); }
  bool has(size_t n) const { return pos_ <= bytes_.size() && n <= bytes_.size() - pos_; }

  template <class T>
  bool fixed(T& out) {
    if (!has(sizeof(T))) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool u8(uint8_t& out) { return fixed(out); }
  bool uleb(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!u8(b)) return false;
      out |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;  // longer than any 64-bit value
  }
  bool sleb(int64_t& out) {
    uint64_t v = 0;
    int shift = 0;
    uint8_t b = 0;
    do {
      if (shift >= 64 || !u8(b)) return false;
      v |= uint64_t{b & 0x7fu} << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= ~uint64_t{0} << shift;
    out = static_cast<int64_t>(v);
    return true;
  }
  bool cstring(std::string& out) {
    out.clear();
    while (true) {
      uint8_t c;
      if (!u8(c)) return false;
      if (c == 0) return true;
      if (out.size() >= 16) return false;  // no real augmentation string is this long
      out.push_back(static_cast<char>(c));
    }
  }
  bool skip(uint64_t n) {
    if (!has(n)) return false;
    pos_ += n;
    return true;
  }
  // A DW_EH_PE-encoded pointer whose field lies at link-time `field_address`. `datarel_base`:
  // what datarel is relative to (the .eh_frame_hdr start in the header; unsupported elsewhere).
  bool pointer(uint8_t encoding, uint64_t field_address, std::optional<uint64_t> datarel_base,
               uint64_t& out, bool* indirect = nullptr) {
    if (encoding == eh_pe::kOmit) return false;
    uint64_t value = 0;
    switch (encoding & 0x0f) {
      case eh_pe::kAbsptr:
      case eh_pe::kUdata8: {
        uint64_t v;
        if (!fixed(v)) return false;
        value = v;
        break;
      }
      case eh_pe::kUleb128:
        if (!uleb(value)) return false;
        break;
      case eh_pe::kUdata2: {
        uint16_t v;
        if (!fixed(v)) return false;
        value = v;
        break;
      }
      case eh_pe::kUdata4: {
        uint32_t v;
        if (!fixed(v)) return false;
        value = v;
        break;
      }
      case eh_pe::kSleb128: {
        int64_t v;
        if (!sleb(v)) return false;
        value = static_cast<uint64_t>(v);
        break;
      }
      case eh_pe::kSdata2: {
        int16_t v;
        if (!fixed(v)) return false;
        value = static_cast<uint64_t>(int64_t{v});
        break;
      }
      case eh_pe::kSdata4: {
        int32_t v;
        if (!fixed(v)) return false;
        value = static_cast<uint64_t>(int64_t{v});
        break;
      }
      case eh_pe::kSdata8: {
        int64_t v;
        if (!fixed(v)) return false;
        value = static_cast<uint64_t>(v);
        break;
      }
      default:
        return false;
    }
    switch (encoding & 0x70) {
      case eh_pe::kAbsptr: break;
      case eh_pe::kPcrel: value += field_address; break;
      case eh_pe::kDatarel:
        if (!datarel_base) return false;
        value += *datarel_base;
        break;
      default:
        return false;  // textrel, funcrel, aligned: never produced for x86-64 CFI
    }
    if (indirect != nullptr) *indirect = (encoding & eh_pe::kIndirect) != 0;
    out = value;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  size_t pos_;
};

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
std::optional<EntryHeader> read_header(std::span<const std::byte> section, size_t pos) {
  Reader r(section, pos);
  EntryHeader h;
  h.start = pos;
  uint32_t len32;
  if (!r.fixed(len32)) return std::nullopt;
  uint64_t length = len32;
  if (len32 == 0xffffffffu) {
    if (!r.fixed(length)) return std::nullopt;
    h.dwarf64 = true;
  } else if (len32 >= 0xfffffff0u) {
    return std::nullopt;  // reserved values
  }
  if (length == 0) {
    h.terminator = true;
    h.end = r.pos();
    return h;
  }
  if (!r.has(length)) return std::nullopt;
  h.end = r.pos() + static_cast<size_t>(length);
  h.id_field = r.pos();
  if (h.dwarf64) {
    if (length < 8 || !r.fixed(h.id)) return std::nullopt;
  } else {
    uint32_t id32;
    if (length < 4 || !r.fixed(id32)) return std::nullopt;
    h.id = id32;
  }
  h.body = r.pos();
  return h;
}

bool is_cie(const EntryHeader& h, CfiFormat format) {
  if (format == CfiFormat::kEhFrame) return h.id == 0;
  return h.dwarf64 ? h.id == ~uint64_t{0} : h.id == 0xffffffffu;
}

Cie parse_cie(std::span<const std::byte> section, uint64_t section_address, const EntryHeader& h,
              CfiFormat format) {
  Cie cie;
  cie.end = h.end;
  Reader r(section.first(h.end), h.body);
  if (!r.u8(cie.version)) return cie;
  if (cie.version != 1 && cie.version != 3 && cie.version != 4) return cie;
  if (!r.cstring(cie.augmentation)) return cie;
  if (cie.version == 4) {
    if (!r.u8(cie.address_size) || !r.u8(cie.segment_size)) return cie;
  }
  if (!r.uleb(cie.code_align) || !r.sleb(cie.data_align)) return cie;
  if (cie.version == 1) {
    uint8_t ra;
    if (!r.u8(ra)) return cie;
    cie.return_register = ra;
  } else if (!r.uleb(cie.return_register)) {
    return cie;
  }
  if (format == CfiFormat::kEhFrame) {
    // Only the 'z' form can be skipped safely when something in it is not understood.
    std::string_view aug = cie.augmentation;
    size_t aug_end = 0;
    if (!aug.empty() && aug[0] == 'z') {
      uint64_t aug_len;
      if (!r.uleb(aug_len) || !r.has(aug_len)) return cie;
      cie.sized_augmentation = true;
      aug_end = r.pos() + static_cast<size_t>(aug_len);
      aug.remove_prefix(1);
    } else if (!aug.empty() && aug != "eh") {
      return cie;
    }
    for (char c : aug) {
      if (c == 'R') {
        if (!r.u8(cie.fde_encoding)) return cie;
      } else if (c == 'L') {
        if (!r.u8(cie.lsda_encoding)) return cie;
      } else if (c == 'P') {
        uint8_t enc;
        if (!r.u8(enc)) return cie;
        const uint64_t field = section_address + r.pos();
        uint64_t target = 0;
        bool indirect = false;
        if (!r.pointer(enc, field, std::nullopt, target, &indirect)) return cie;
        if (indirect) cie.indirect_personality = target;
      } else if (c == 'S' || c == 'B') {
        // signal frame / arm64 key: no data
      } else if (cie.sized_augmentation) {
        break;  // the rest is skipped through the augmentation length
      } else {
        return cie;
      }
    }
    if (cie.sized_augmentation) r.seek(aug_end);
  }
  cie.instructions = r.pos();
  cie.valid = cie.instructions <= cie.end;
  return cie;
}

// The CIE an FDE points at, parsed once per offset.
class CieCache {
 public:
  CieCache(std::span<const std::byte> section, uint64_t address, CfiFormat format)
      : section_(section), address_(address), format_(format) {}
  const Cie* at(size_t offset) {
    auto it = cies_.find(offset);
    if (it != cies_.end()) return it->second.valid ? &it->second : nullptr;
    Cie cie;
    if (auto h = read_header(section_, offset); h && !h->terminator && is_cie(*h, format_)) {
      cie = parse_cie(section_, address_, *h, format_);
    }
    auto [pos, inserted] = cies_.emplace(offset, cie);
    return pos->second.valid ? &pos->second : nullptr;
  }
  const std::map<size_t, Cie>& all() const { return cies_; }

 private:
  std::span<const std::byte> section_;
  uint64_t address_;
  CfiFormat format_;
  std::map<size_t, Cie> cies_;
};

// The CIE offset an FDE refers to, or nullopt when it points outside the section.
std::optional<size_t> cie_offset_of(const EntryHeader& h, CfiFormat format, size_t section_size) {
  uint64_t target;
  if (format == CfiFormat::kEhFrame) {
    // .eh_frame: relative to the id field, backwards.
    if (h.id > h.id_field) return std::nullopt;
    target = h.id_field - h.id;
  } else {
    target = h.id;
  }
  if (target >= section_size) return std::nullopt;
  return static_cast<size_t>(target);
}

}  // namespace

Result<EhFrameHdr> parse_eh_frame_hdr(std::span<const std::byte> hdr, uint64_t hdr_address) {
  Reader r(hdr);
  uint8_t version, eh_frame_ptr_enc, fde_count_enc, table_enc;
  if (!r.u8(version) || !r.u8(eh_frame_ptr_enc) || !r.u8(fde_count_enc) || !r.u8(table_enc)) {
    return make_error(ErrorCode::kMalformed, ".eh_frame_hdr is shorter than its header");
  }
  if (version != 1) {
    return make_error(ErrorCode::kMalformed, fmt::format(".eh_frame_hdr has version {}, not 1", version));
  }
  EhFrameHdr out;
  if (!r.pointer(eh_frame_ptr_enc, hdr_address + r.pos(), hdr_address, out.eh_frame_address) ||
      (eh_frame_ptr_enc & eh_pe::kIndirect) != 0) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format(".eh_frame_hdr: unreadable eh_frame_ptr (encoding {:#x})", eh_frame_ptr_enc));
  }
  if (fde_count_enc == eh_pe::kOmit || table_enc == eh_pe::kOmit) return out;  // no table
  uint64_t count = 0;
  if (!r.pointer(fde_count_enc, hdr_address + r.pos(), hdr_address, count) ||
      (fde_count_enc & eh_pe::kIndirect) != 0) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format(".eh_frame_hdr: unreadable fde_count (encoding {:#x})", fde_count_enc));
  }
  // libunwind's remote search reads pairs of 32-bit offsets from the header: nothing else is
  // a table it can use (the unwinder then builds its own).
  if (table_enc != (eh_pe::kDatarel | eh_pe::kSdata4)) return out;
  const size_t available = hdr.size() - r.pos();
  if (count > available / 8) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format(".eh_frame_hdr: {} table entries do not fit in its {} bytes",
                                  count, hdr.size()));
  }
  out.table_address = hdr_address + r.pos();
  out.fde_count = count;
  out.has_table = count > 0;
  return out;
}

CfiScan scan_cfi(std::span<const std::byte> section, uint64_t section_address, CfiFormat format) {
  CfiScan out;
  CieCache cies(section, section_address, format);
  size_t pos = 0;
  while (pos < section.size()) {
    auto h = read_header(section, pos);
    if (!h) {
      out.truncated = true;
      break;
    }
    if (h->terminator) {
      if (format == CfiFormat::kEhFrame) break;  // .eh_frame ends at a zero length
      pos = h->end;
      continue;
    }
    pos = h->end;
    if (is_cie(*h, format)) {
      if (cies.at(h->start) == nullptr) out.bad_entries++;
      continue;
    }
    auto cie_at = cie_offset_of(*h, format, section.size());
    const Cie* cie = cie_at ? cies.at(*cie_at) : nullptr;
    if (cie == nullptr || cie->segment_size != 0) {
      out.bad_entries++;
      continue;
    }
    Reader r(section.first(h->end), h->body);
    uint64_t start = 0, range = 0;
    bool ok;
    if (format == CfiFormat::kEhFrame) {
      ok = r.pointer(cie->fde_encoding, section_address + r.pos(), std::nullopt, start) &&
           (cie->fde_encoding & eh_pe::kIndirect) == 0 &&
           r.pointer(cie->fde_encoding & 0x0f, 0, std::nullopt, range);
    } else {
      ok = cie->address_size == 8 && r.fixed(start) && r.fixed(range);
    }
    if (!ok || range == 0 || start + range < start) {
      if (!ok) out.bad_entries++;
      continue;  // an empty range is padding, not an error
    }
    out.fdes.push_back(FdeRange{start, start + range, section_address + h->start});
  }
  for (const auto& [offset, cie] : cies.all()) {
    if (cie.valid && cie.indirect_personality) out.indirect_pointers.push_back(*cie.indirect_personality);
  }
  return out;
}

namespace {

void put_bytes(std::vector<std::byte>& out, const void* data, size_t n) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}
template <class T>
void put(std::vector<std::byte>& out, T v) {
  put_bytes(out, &v, sizeof v);
}
void put_uleb(std::vector<std::byte>& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    put(out, b);
  } while (v != 0);
}
void put_sleb(std::vector<std::byte>& out, int64_t v) {
  bool more = true;
  while (more) {
    uint8_t b = v & 0x7f;
    v >>= 7;  // arithmetic shift (C++20)
    more = !((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0));
    if (more) b |= 0x80;
    put(out, b);
  }
}
void pad_to_8(std::vector<std::byte>& out, size_t entry_start) {
  // Entries are padded with DW_CFA_nop, as the linker does, and the length covers the padding.
  while ((out.size() - entry_start) % 8 != 0) put(out, kCfaNop);
}
void patch_length(std::vector<std::byte>& out, size_t entry_start) {
  const auto length = static_cast<uint32_t>(out.size() - entry_start - 4);
  std::memcpy(out.data() + entry_start, &length, 4);
}

}  // namespace

ConvertedCfi convert_debug_frame(std::span<const std::byte> debug_frame, uint64_t at) {
  ConvertedCfi out;
  CieCache cies(debug_frame, 0, CfiFormat::kDebugFrame);
  std::map<size_t, size_t> converted_cie;  // .debug_frame offset -> offset in out.bytes
  constexpr uint8_t kFdeEncoding = eh_pe::kPcrel | eh_pe::kSdata8;
  size_t pos = 0;
  while (pos < debug_frame.size()) {
    auto h = read_header(debug_frame, pos);
    if (!h) {
      out.skipped_entries++;
      break;
    }
    pos = h->end;
    if (h->terminator || is_cie(*h, CfiFormat::kDebugFrame)) continue;
    auto cie_at = cie_offset_of(*h, CfiFormat::kDebugFrame, debug_frame.size());
    const Cie* cie = cie_at ? cies.at(*cie_at) : nullptr;
    // Augmentations of .debug_frame are vendor extensions that cannot be carried over blindly.
    if (cie == nullptr || !cie->augmentation.empty() || cie->address_size != 8 ||
        cie->segment_size != 0 || cie->instructions > cie->end) {
      out.skipped_entries++;
      continue;
    }
    Reader r(debug_frame.first(h->end), h->body);
    uint64_t start, range;
    if (!r.fixed(start) || !r.fixed(range) || range == 0 || start + range < start) {
      out.skipped_entries++;
      continue;
    }
    auto [cie_it, first_use] = converted_cie.emplace(*cie_at, out.bytes.size());
    if (first_use) {
      const size_t entry = out.bytes.size();
      put<uint32_t>(out.bytes, 0);  // length, patched below
      put<uint32_t>(out.bytes, 0);  // CIE id of .eh_frame
      const bool wide_register = cie->return_register > 0xff;
      put<uint8_t>(out.bytes, wide_register ? 3 : 1);
      put_bytes(out.bytes, "zR", 3);
      put_uleb(out.bytes, cie->code_align);
      put_sleb(out.bytes, cie->data_align);
      if (wide_register) {
        put_uleb(out.bytes, cie->return_register);
      } else {
        put<uint8_t>(out.bytes, static_cast<uint8_t>(cie->return_register));
      }
      put_uleb(out.bytes, 1);  // augmentation data: the FDE pointer encoding
      put<uint8_t>(out.bytes, kFdeEncoding);
      put_bytes(out.bytes, debug_frame.data() + cie->instructions, cie->end - cie->instructions);
      pad_to_8(out.bytes, entry);
      patch_length(out.bytes, entry);
    }
    const size_t entry = out.bytes.size();
    put<uint32_t>(out.bytes, 0);
    // CIE pointer: from this field back to the CIE.
    put<uint32_t>(out.bytes, static_cast<uint32_t>(out.bytes.size() - cie_it->second));
    const uint64_t field = at + out.bytes.size();
    put<int64_t>(out.bytes, static_cast<int64_t>(start - field));
    put<int64_t>(out.bytes, static_cast<int64_t>(range));
    put_uleb(out.bytes, 0);  // no augmentation data
    put_bytes(out.bytes, debug_frame.data() + r.pos(), h->end - r.pos());
    pad_to_8(out.bytes, entry);
    patch_length(out.bytes, entry);
    out.fdes.push_back(FdeRange{start, start + range, at + entry});
    if (out.bytes.size() > 0x7fff0000u) {
      // Table offsets are 32-bit: nothing past 2 GiB could be found anyway.
      out.skipped_entries++;
      break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// UnwindTable

UnwindTable::~UnwindTable() = default;

void UnwindTable::add_region(uint64_t start, std::span<const std::byte> bytes) {
  // Regions start and end on 8-byte boundaries so that libunwind's aligned word reads never
  // straddle an edge. Pieces that touch (.eh_frame_hdr right before .eh_frame) share one
  // region, so that the padding of one never hides bytes of the other.
  if (bytes.empty()) return;
  uint64_t lo = start & ~uint64_t{7};
  uint64_t hi = align_up(start + bytes.size(), 8);
  std::vector<Region> kept;
  std::vector<Region> merged;
  for (Region& r : regions_) {
    if (r.start <= hi && lo <= r.start + r.bytes.size()) {
      lo = std::min(lo, r.start);
      hi = std::max(hi, r.start + r.bytes.size());
      merged.push_back(std::move(r));
    } else {
      kept.push_back(std::move(r));
    }
  }
  Region region;
  region.start = lo;
  region.bytes.assign(static_cast<size_t>(hi - lo), std::byte{0});
  for (const Region& r : merged) {
    for (size_t i = 0; i < r.bytes.size(); ++i) region.bytes[r.start - lo + i] = r.bytes[i];
  }
  std::memcpy(region.bytes.data() + (start - lo), bytes.data(), bytes.size());
  kept.push_back(std::move(region));
  regions_ = std::move(kept);
}

const UnwindTable::Region* UnwindTable::region_for(uint64_t address, size_t size) const {
  for (const Region& r : regions_) {
    if (address >= r.start && address - r.start <= r.bytes.size() &&
        size <= r.bytes.size() - (address - r.start)) {
      return &r;
    }
  }
  return nullptr;
}

bool UnwindTable::read_bytes(uint64_t address, void* out, size_t size) const {
  const Region* r = region_for(address, size);
  if (r == nullptr) return false;
  std::memcpy(out, r->bytes.data() + (address - r->start), size);
  return true;
}

bool UnwindTable::read_word(uint64_t address, uint64_t& out) const {
  if (read_bytes(address, &out, 8)) return true;
  auto it = std::lower_bound(words_.begin(), words_.end(), std::make_pair(address, uint64_t{0}));
  if (it != words_.end() && it->first == address) {
    out = it->second;
    return true;
  }
  for (const Segment& s : segments_) {
    // .bss: what the loader gives it is zeros.
    if (address >= s.vaddr + s.file_size && address < s.vaddr + s.mem_size &&
        s.vaddr + s.mem_size - address >= 8) {
      out = 0;
      return true;
    }
  }
  return false;
}

std::optional<uint64_t> UnwindTable::link_address(uint64_t file_offset) const {
  for (const Segment& s : segments_) {
    if (s.executable && file_offset >= s.file_offset && file_offset - s.file_offset < s.mem_size) {
      return s.vaddr + (file_offset - s.file_offset);
    }
  }
  return std::nullopt;
}

std::span<const std::byte> UnwindTable::bytes_from(uint64_t address) const {
  for (const Region& r : regions_) {
    if (address >= r.start && address - r.start < r.bytes.size()) {
      return std::span<const std::byte>(r.bytes).subspan(static_cast<size_t>(address - r.start));
    }
  }
  return {};
}

std::optional<FdeRange> UnwindTable::find_fde(uint64_t pc) const {
  // The same search libunwind makes: the last entry whose start is <= pc (32-bit, relative to
  // segbase), then the FDE's own range.
  const auto rel = static_cast<int32_t>(pc - segbase_);
  uint64_t lo = 0, hi = fde_count_;
  while (lo < hi) {
    const uint64_t mid = (lo + hi) / 2;
    int32_t start;
    if (!read_bytes(table_address_ + mid * 8, &start, 4)) return std::nullopt;
    if (rel < start) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (hi == 0) return std::nullopt;
  int32_t entry[2];
  if (!read_bytes(table_address_ + (hi - 1) * 8, entry, 8)) return std::nullopt;
  const uint64_t fde = segbase_ + static_cast<uint64_t>(int64_t{entry[1]});
  std::span<const std::byte> fde_bytes = bytes_from(fde);
  auto h = read_header(fde_bytes, 0);
  if (!h || h->terminator || h->dwarf64 || h->id == 0) return std::nullopt;
  const uint64_t cie = fde + h->id_field - h->id;
  std::span<const std::byte> cie_bytes = bytes_from(cie);
  auto ch = read_header(cie_bytes, 0);
  if (!ch || ch->terminator || !is_cie(*ch, CfiFormat::kEhFrame)) return std::nullopt;
  Cie parsed = parse_cie(cie_bytes, cie, *ch, CfiFormat::kEhFrame);
  if (!parsed.valid) return std::nullopt;
  Reader r(fde_bytes.first(h->end), h->body);
  uint64_t start = 0, range = 0;
  if (!r.pointer(parsed.fde_encoding, fde + r.pos(), std::nullopt, start) ||
      !r.pointer(parsed.fde_encoding & 0x0f, 0, std::nullopt, range)) {
    return std::nullopt;
  }
  if (pc < start || pc - start >= range) return std::nullopt;
  return FdeRange{start, start + range, fde};
}

size_t UnwindTable::memory_bytes() const {
  size_t n = sizeof(*this) + name_.capacity() + segments_.capacity() * sizeof(Segment) +
             words_.capacity() * sizeof(words_[0]);
  for (const Region& r : regions_) n += r.bytes.capacity() + sizeof(Region);
  return n;
}

Result<std::unique_ptr<UnwindTable>> UnwindTable::build(const Sections& s, std::string name) {
  std::unique_ptr<UnwindTable> t(new UnwindTable());
  t->name_ = std::move(name);
  uint64_t image_end = 0;
  bool have_text = false;
  for (const elf::LoadSegment& seg : s.segments) {
    if (seg.mem_size == 0 || seg.vaddr + seg.mem_size < seg.vaddr) continue;
    t->segments_.push_back(Segment{seg.vaddr, seg.file_offset, seg.file_size, seg.mem_size, seg.executable});
    image_end = std::max(image_end, seg.vaddr + seg.mem_size);
    if (seg.executable) {
      t->text_start_ = have_text ? std::min(t->text_start_, seg.vaddr) : seg.vaddr;
      t->text_end_ = std::max(t->text_end_, seg.vaddr + seg.mem_size);
      have_text = true;
    }
  }
  if (!have_text) return make_error(ErrorCode::kUnsupported, t->name_ + ": no executable segment");
  // Everything is served inside one slot of the CFI address space, with room above the image
  // for what ember synthesizes.
  if (image_end >= kCfiSlotSize / 2) {
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("{}: link-time addresses up to {:#x} are beyond what ember unwinds",
                                  t->name_, image_end));
  }
  const uint64_t synth_at = align_up(image_end, 0x1000) + kSynthesizedGap;

  auto within_slot = [&](uint64_t address, size_t size) {
    return address < kCfiSlotSize / 2 && size < kCfiSlotSize / 4;
  };
  const bool have_eh_frame = !s.eh_frame.empty() && within_slot(s.eh_frame_address, s.eh_frame.size());
  const bool have_debug_frame = !s.debug_frame.empty();

  std::optional<EhFrameHdr> hdr;
  if (!s.eh_frame_hdr.empty() && within_slot(s.eh_frame_hdr_address, s.eh_frame_hdr.size())) {
    auto parsed = parse_eh_frame_hdr(s.eh_frame_hdr, s.eh_frame_hdr_address);
    if (parsed && parsed->has_table) hdr = *parsed;
    if (!parsed) spdlog::debug("{}: {}", t->name_, parsed.error().message());
  }

  CfiScan eh_scan;
  if (have_eh_frame) {
    eh_scan = scan_cfi(s.eh_frame, s.eh_frame_address, CfiFormat::kEhFrame);
    t->add_region(s.eh_frame_address, s.eh_frame);
  }

  std::vector<FdeRange> fdes;
  if (hdr && have_eh_frame && !have_debug_frame) {
    // The common case: the linker's own sorted table.
    t->source_ = Source::kEhFrameHdr;
    t->add_region(s.eh_frame_hdr_address, s.eh_frame_hdr);
    t->segbase_ = s.eh_frame_hdr_address;
    t->table_address_ = hdr->table_address;
    t->fde_count_ = hdr->fde_count;
  } else {
    fdes = eh_scan.fdes;
    t->source_ = Source::kEhFrame;
    if (have_debug_frame) {
      // .debug_frame describes what .eh_frame does not (e.g. built with -fno-asynchronous-unwind-
      // tables, where .eh_frame holds only the C runtime's entry points).
      const size_t table_room = align_up((eh_scan.fdes.size() + s.debug_frame.size() / 24 + 1) * 8, 0x1000);
      const uint64_t converted_at = synth_at + table_room;
      ConvertedCfi converted = convert_debug_frame(s.debug_frame, converted_at);
      if (!converted.fdes.empty()) {
        std::vector<FdeRange> covered = fdes;
        std::sort(covered.begin(), covered.end(), [](const FdeRange& a, const FdeRange& b) { return a.start < b.start; });
        for (const FdeRange& f : converted.fdes) {
          // .eh_frame wins where both describe the same code.
          auto it = std::upper_bound(covered.begin(), covered.end(), f.start,
                                     [](uint64_t pc, const FdeRange& c) { return pc < c.start; });
          if (it != covered.begin() && std::prev(it)->end > f.start) continue;
          if (it != covered.end() && it->start < f.end) continue;
          fdes.push_back(f);
        }
        t->add_region(converted_at, converted.bytes);
        t->source_ = Source::kDebugFrame;
      }
    }
    if (fdes.empty()) {
      return make_error(ErrorCode::kNotFound, t->name_ + ": no call-frame information (.eh_frame or .debug_frame)");
    }
    // A table in .eh_frame_hdr's form: pairs of 32-bit offsets from its own start, sorted.
    std::sort(fdes.begin(), fdes.end(), [](const FdeRange& a, const FdeRange& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<std::byte> table;
    table.reserve(fdes.size() * 8);
    uint64_t last_start = ~uint64_t{0};
    uint64_t count = 0;
    for (const FdeRange& f : fdes) {
      if (f.start == last_start) continue;  // the longest range with a given start
      const int64_t start = static_cast<int64_t>(f.start - synth_at);
      const int64_t fde = static_cast<int64_t>(f.fde_address - synth_at);
      if (start != static_cast<int32_t>(start) || fde != static_cast<int32_t>(fde)) continue;
      put<int32_t>(table, static_cast<int32_t>(start));
      put<int32_t>(table, static_cast<int32_t>(fde));
      last_start = f.start;
      count++;
    }
    t->add_region(synth_at, table);
    t->segbase_ = synth_at;
    t->table_address_ = synth_at;
    t->fde_count_ = count;
  }
  return t;
}

namespace {

// Reads [offset, offset + size) of the file into memory, checked against the file's size.
Result<std::vector<std::byte>> read_file_range(const elf::ElfFile& file, uint64_t offset, uint64_t size,
                                               std::string_view what) {
  if (offset > file.file_size() || size > file.file_size() - offset) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {} runs past the end of the file", file.name(), what));
  }
  if (size > kMaxSectionBytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      fmt::format("{}: {} is {} bytes, more than ember reads", file.name(), what, size));
  }
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(file.fd(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(file.name());
    if (n == 0) return make_error(ErrorCode::kMalformed, fmt::format("{}: {} is truncated", file.name(), what));
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace

Result<std::unique_ptr<UnwindTable>> UnwindTable::load(const elf::ElfFile& file) {
  Sections s;
  s.segments = file.load_segments();
  std::vector<std::byte> hdr_bytes, eh_bytes, debug_bytes;
  auto load_section = [&](const char* name, std::vector<std::byte>& bytes, uint64_t* address) -> Result<void> {
    const elf::SectionInfo* info = file.section(name);
    if (info == nullptr || info->type == SHT_NOBITS || info->size == 0) return {};
    auto read = read_file_range(file, info->offset, info->size, name);
    if (!read) return std::unexpected(read.error());
    bytes = std::move(*read);
    if (address != nullptr) *address = info->address;
    return {};
  };
  if (auto r = load_section(".eh_frame_hdr", hdr_bytes, &s.eh_frame_hdr_address); !r) return std::unexpected(r.error());
  if (auto r = load_section(".eh_frame", eh_bytes, &s.eh_frame_address); !r) return std::unexpected(r.error());
  if (const elf::SectionInfo* d = file.section(".debug_frame"); d != nullptr) {
    // Compressed debug sections (SHF_COMPRESSED) are not read here: binaries built without
    // unwind tables keep .debug_frame uncompressed unless asked otherwise.
    Elf_Scn* scn = elf_getscn(file.handle(), d->index);
    GElf_Shdr shdr;
    if (scn != nullptr && gelf_getshdr(scn, &shdr) != nullptr && (shdr.sh_flags & SHF_COMPRESSED) == 0) {
      if (auto r = load_section(".debug_frame", debug_bytes, nullptr); !r) return std::unexpected(r.error());
    }
  }
  if (hdr_bytes.empty() && eh_bytes.empty()) {
    // No section headers (sstrip'ed): PT_GNU_EH_FRAME still finds .eh_frame_hdr, and its
    // eh_frame_ptr finds .eh_frame, which runs at most to the end of its segment.
    size_t phnum = 0;
    if (elf_getphdrnum(file.handle(), &phnum) == 0) {
      for (size_t i = 0; i < phnum; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(file.handle(), static_cast<int>(i), &ph) == nullptr || ph.p_type != PT_GNU_EH_FRAME) continue;
        auto read = read_file_range(file, ph.p_offset, ph.p_filesz, "PT_GNU_EH_FRAME");
        if (!read) return std::unexpected(read.error());
        hdr_bytes = std::move(*read);
        s.eh_frame_hdr_address = ph.p_vaddr;
        auto parsed = parse_eh_frame_hdr(hdr_bytes, ph.p_vaddr);
        if (!parsed) return std::unexpected(parsed.error().with_context(file.name()));
        for (const elf::LoadSegment& seg : s.segments) {
          const uint64_t at = parsed->eh_frame_address;
          if (at >= seg.vaddr && at - seg.vaddr < seg.file_size) {
            auto eh = read_file_range(file, seg.file_offset + (at - seg.vaddr), seg.file_size - (at - seg.vaddr), ".eh_frame");
            if (!eh) return std::unexpected(eh.error());
            eh_bytes = std::move(*eh);
            s.eh_frame_address = at;
          }
        }
        break;
      }
    }
  }
  s.eh_frame_hdr = hdr_bytes;
  s.eh_frame = eh_bytes;
  s.debug_frame = debug_bytes;
  auto table = build(s, file.name());
  if (!table) return table;
  // Personality pointers that libunwind dereferences while parsing CIEs: keep their words.
  if (!eh_bytes.empty()) {
    CfiScan scan = scan_cfi(eh_bytes, s.eh_frame_address, CfiFormat::kEhFrame);
    for (uint64_t p : scan.indirect_pointers) {
      for (uint64_t word = p & ~uint64_t{7}; word < p + 8; word += 8) {
        for (const elf::LoadSegment& seg : s.segments) {
          if (word >= seg.vaddr && word - seg.vaddr + 8 <= seg.file_size) {
            auto w = read_file_range(file, seg.file_offset + (word - seg.vaddr), 8, "a personality pointer");
            if (!w) break;
            uint64_t value;
            std::memcpy(&value, w->data(), 8);
            (*table)->words_.emplace_back(word, value);
            break;
          }
        }
      }
    }
    auto& words = (*table)->words_;
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
  }
  return table;
}

// ---------------------------------------------------------------------------------------------
// UnwindTableCache

std::string unwind_table_key(const profile::Module& module) {
  if (module.kind == profile::MappingKind::kVdso) return "vdso";
  if (!module.build_id.empty()) return "b" + module.build_id.raw();
  if (module.inode != 0) return fmt::format("i{}:{}", module.device, module.inode);
  return "p" + module.path;
}

UnwindTableCache::UnwindTableCache(Limits limits) : limits_(limits) {
  limits_.max_tables = std::clamp<size_t>(limits_.max_tables, 1, kCfiMaxSlots / 2);
}
UnwindTableCache::~UnwindTableCache() = default;

UnwindTableCache::Found UnwindTableCache::touch(Lru::iterator it) {
  if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
  return Found{it->table.get(), it->slot};
}

const UnwindTable* UnwindTableCache::in_slot(uint32_t slot) const {
  auto it = by_slot_.find(slot);
  return it == by_slot_.end() ? nullptr : it->second;
}

UnwindTableCache::Found UnwindTableCache::insert(const std::string& key, std::unique_ptr<UnwindTable> table) {
  if (auto it = by_key_.find(key); it != by_key_.end()) return touch(it->second);
  Entry e;
  e.key = key;
  e.bytes = key.size() + sizeof(Entry) + (table ? table->memory_bytes() : 0);
  if (table) {
    // Slots freed by eviction are reused only after generation() changed, i.e. after the
    // unwinder flushed every cache that could still point into them.
    while (by_slot_.count(next_slot_) != 0) next_slot_ = (next_slot_ + 1) % kCfiMaxSlots;
    e.slot = next_slot_;
    next_slot_ = (next_slot_ + 1) % kCfiMaxSlots;
    by_slot_.emplace(e.slot, table.get());
    stats_.loaded++;
    if (table->source() == UnwindTable::Source::kDebugFrame) stats_.from_debug_frame++;
  } else {
    stats_.without_cfi++;
  }
  e.table = std::move(table);
  bytes_ += e.bytes;
  lru_.push_front(std::move(e));
  by_key_.emplace(key, lru_.begin());
  stats_.tables = lru_.size();
  stats_.bytes = bytes_;
  return Found{lru_.front().table.get(), lru_.front().slot};
}

UnwindTableCache::Found UnwindTableCache::find(const profile::Module& module) {
  std::string key = unwind_table_key(module);
  if (auto it = by_key_.find(key); it != by_key_.end()) return touch(it->second);
  std::unique_ptr<UnwindTable> table =
      module.kind == profile::MappingKind::kVdso ? load_vdso() : load_module(module);
  if (table && table->memory_bytes() > limits_.max_bytes / 2) {
    spdlog::debug("{}: unwind table of {} bytes is over the cache's bound", module.path, table->memory_bytes());
    table.reset();
  }
  return insert(key, std::move(table));
}

void UnwindTableCache::trim() {
  while (!lru_.empty() && (lru_.size() > limits_.max_tables || bytes_ > limits_.max_bytes)) {
    Entry& e = lru_.back();
    if (e.table) by_slot_.erase(e.slot);
    bytes_ -= e.bytes;
    by_key_.erase(e.key);
    lru_.pop_back();
    stats_.evicted++;
    generation_++;
  }
  stats_.tables = lru_.size();
  stats_.bytes = bytes_;
}

std::unique_ptr<UnwindTable> UnwindTableCache::load_module(const profile::Module& module) {
  common::UniqueFd fd;
  if (module.file && module.file->valid()) {
    fd.reset(::fcntl(module.file->get(), F_DUPFD_CLOEXEC, 0));
  }
  if (!fd.valid() && module.pid > 0 && !module.path.empty() && module.path[0] == '/') {
    // The module cache gave up its fd (its bound): the file as the target sees it, checked below.
    fd.reset(::open(fmt::format("/proc/{}/root{}", module.pid, module.path).c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!fd.valid()) return nullptr;
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  auto file = elf::ElfFile::open(std::move(fd), module.path);
  if (!file) {
    spdlog::debug("unwind table: {}", file.error().message());
    return nullptr;
  }
  // A path reopened must still be the binary that was mapped.
  if (!module.build_id.empty() && file->build_id() != module.build_id) return nullptr;
  if (module.build_id.empty() && module.inode != 0 && static_cast<uint64_t>(st.st_ino) != module.inode) return nullptr;
  auto table = UnwindTable::load(*file);
  if (!table) {
    spdlog::debug("unwind table: {}", table.error().message());
    return nullptr;
  }
  return std::move(*table);
}

std::unique_ptr<UnwindTable> UnwindTableCache::load_vdso() {
  // Every 64-bit process of this kernel maps the same vDSO image: ember reads its own, through
  // a memfd so that the ordinary ELF reader (and its checks) apply.
  const auto base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return nullptr;
  const auto* ehdr = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 || ehdr->e_ident[EI_CLASS] != ELFCLASS64) return nullptr;
  // The image's extent: the section headers come last.
  uint64_t size = uint64_t{ehdr->e_shoff} + uint64_t{ehdr->e_shnum} * ehdr->e_shentsize;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (size == 0 || size > 64 * page) return nullptr;
  common::UniqueFd fd(::memfd_create("ember-vdso", MFD_CLOEXEC));
  if (!fd.valid()) return nullptr;
  if (::write(fd.get(), reinterpret_cast<const void*>(base), size) != static_cast<ssize_t>(size)) return nullptr;
  auto file = elf::ElfFile::open(std::move(fd), "[vdso]");
  if (!file) return nullptr;
  auto table = UnwindTable::load(*file);
  return table ? std::move(*table) : nullptr;
}

}  // namespace ember::collector
