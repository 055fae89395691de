#include "collector/cfi_parse.h"

#include <fmt/format.h>

#include <string_view>

namespace ember::collector {

using common::ByteReader;

namespace cfi {

bool read_pointer(ByteReader& r, uint8_t encoding, uint64_t field_address, std::optional<uint64_t> datarel_base,
                  uint64_t& out, bool* indirect) {
  if (encoding == eh_pe::kOmit) return false;
  uint64_t value = 0;
  switch (encoding & 0x0f) {
    case eh_pe::kAbsptr:
    case eh_pe::kUdata8:
    case eh_pe::kSdata8: value = r.u64(); break;
    case eh_pe::kUleb128: value = r.uleb(); break;
    case eh_pe::kUdata2: value = r.u16(); break;
    case eh_pe::kUdata4: value = r.u32(); break;
    case eh_pe::kSleb128: value = static_cast<uint64_t>(r.sleb()); break;
    case eh_pe::kSdata2: value = static_cast<uint64_t>(int64_t{static_cast<int16_t>(r.u16())}); break;
    case eh_pe::kSdata4: value = static_cast<uint64_t>(int64_t{static_cast<int32_t>(r.u32())}); break;
    default: return false;
  }
  if (!r.ok()) return false;
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

std::optional<EntryHeader> read_header(std::span<const std::byte> section, size_t pos) {
  ByteReader r(section, pos);
  EntryHeader h;
  h.start = pos;
  const uint32_t len32 = r.u32();
  if (!r.ok()) return std::nullopt;
  uint64_t length = len32;
  if (len32 == 0xffffffffu) {
    length = r.u64();
    if (!r.ok()) return std::nullopt;
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
  if (length < (h.dwarf64 ? 8u : 4u)) return std::nullopt;
  h.id = h.dwarf64 ? r.u64() : r.u32();
  if (!r.ok()) return std::nullopt;
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
  ByteReader r(section.first(h.end), h.body);
  cie.version = r.u8();
  if (!r.ok() || (cie.version != 1 && cie.version != 3 && cie.version != 4)) return cie;
  const std::string_view augmentation = r.cstr();
  if (!r.ok() || augmentation.size() > 16) return cie;  // no real augmentation string is this long
  cie.augmentation = augmentation;
  if (cie.version == 4) {
    cie.address_size = r.u8();
    cie.segment_size = r.u8();
  }
  cie.code_align = r.uleb();
  cie.data_align = r.sleb();
  cie.return_register = cie.version == 1 ? r.u8() : r.uleb();
  if (!r.ok()) return cie;
  if (format == CfiFormat::kEhFrame) {
    // Only the 'z' form can be skipped safely when something in it is not understood.
    std::string_view aug = cie.augmentation;
    size_t aug_end = 0;
    if (!aug.empty() && aug[0] == 'z') {
      const uint64_t aug_len = r.uleb();
      if (!r.ok() || !r.has(aug_len)) return cie;
      cie.sized_augmentation = true;
      aug_end = r.pos() + static_cast<size_t>(aug_len);
      aug.remove_prefix(1);
    } else if (!aug.empty() && aug != "eh") {
      return cie;
    }
    for (char c : aug) {
      if (c == 'R') {
        cie.fde_encoding = r.u8();
      } else if (c == 'L') {
        cie.lsda_encoding = r.u8();
      } else if (c == 'P') {
        const uint8_t enc = r.u8();
        if (!r.ok()) return cie;
        const uint64_t field = section_address + r.pos();
        uint64_t target = 0;
        bool indirect = false;
        if (!read_pointer(r, enc, field, std::nullopt, target, &indirect)) return cie;
        if (indirect) cie.indirect_personality = target;
      } else if (c == 'S' || c == 'B') {
        // signal frame / arm64 key: no data
      } else if (cie.sized_augmentation) {
        break;  // the rest is skipped through the augmentation length
      } else {
        return cie;
      }
      if (!r.ok()) return cie;
    }
    if (cie.sized_augmentation) r.seek(aug_end);
  }
  cie.instructions = r.pos();
  cie.valid = r.ok() && cie.instructions <= cie.end;
  return cie;
}

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

const Cie* CieCache::at(size_t offset) {
  auto it = cies_.find(offset);
  if (it != cies_.end()) return it->second.valid ? &it->second : nullptr;
  Cie cie;
  if (auto h = read_header(section_, offset); h && !h->terminator && is_cie(*h, format_)) {
    cie = parse_cie(section_, address_, *h, format_);
  }
  auto [pos, inserted] = cies_.emplace(offset, cie);
  return pos->second.valid ? &pos->second : nullptr;
}

}  // namespace cfi

Result<EhFrameHdr> parse_eh_frame_hdr(std::span<const std::byte> hdr, uint64_t hdr_address) {
  ByteReader r(hdr);
  const uint8_t version = r.u8();
  const uint8_t eh_frame_ptr_enc = r.u8();
  const uint8_t fde_count_enc = r.u8();
  const uint8_t table_enc = r.u8();
  if (!r.ok()) return make_error(ErrorCode::kMalformed, ".eh_frame_hdr is shorter than its header");
  if (version != 1) {
    return make_error(ErrorCode::kMalformed, fmt::format(".eh_frame_hdr has version {}, not 1", version));
  }
  EhFrameHdr out;
  if (!cfi::read_pointer(r, eh_frame_ptr_enc, hdr_address + r.pos(), hdr_address, out.eh_frame_address) ||
      (eh_frame_ptr_enc & eh_pe::kIndirect) != 0) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format(".eh_frame_hdr: unreadable eh_frame_ptr (encoding {:#x})", eh_frame_ptr_enc));
  }
  if (fde_count_enc == eh_pe::kOmit || table_enc == eh_pe::kOmit) return out;  // no table
  uint64_t count = 0;
  if (!cfi::read_pointer(r, fde_count_enc, hdr_address + r.pos(), hdr_address, count) ||
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
  cfi::CieCache cies(section, section_address, format);
  size_t pos = 0;
  while (pos < section.size()) {
    auto h = cfi::read_header(section, pos);
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
    if (cfi::is_cie(*h, format)) {
      if (cies.at(h->start) == nullptr) out.bad_entries++;
      continue;
    }
    auto cie_at = cfi::cie_offset_of(*h, format, section.size());
    const cfi::Cie* cie = cie_at ? cies.at(*cie_at) : nullptr;
    if (cie == nullptr || cie->segment_size != 0) {
      out.bad_entries++;
      continue;
    }
    ByteReader r(section.first(h->end), h->body);
    uint64_t start = 0, range = 0;
    bool ok;
    if (format == CfiFormat::kEhFrame) {
      ok = cfi::read_pointer(r, cie->fde_encoding, section_address + r.pos(), std::nullopt, start) &&
           (cie->fde_encoding & eh_pe::kIndirect) == 0 &&
           cfi::read_pointer(r, cie->fde_encoding & 0x0f, 0, std::nullopt, range);
    } else {
      start = r.u64();
      range = r.u64();
      ok = cie->address_size == 8 && r.ok();
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

}  // namespace ember::collector
