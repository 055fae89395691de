#include "collector/debug_frame.h"

#include <cstring>
#include <map>

namespace ember::collector {

namespace {

constexpr uint8_t kCfaNop = 0x00;

void put_bytes(std::vector<std::byte>& out, const void* data, size_t n) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}
void put_uleb(std::vector<std::byte>& out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    append_bytes(out, b);
  } while (v != 0);
}
void put_sleb(std::vector<std::byte>& out, int64_t v) {
  bool more = true;
  while (more) {
    uint8_t b = v & 0x7f;
    v >>= 7;  // arithmetic shift (C++20)
    more = !((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0));
    if (more) b |= 0x80;
    append_bytes(out, b);
  }
}
void pad_to_8(std::vector<std::byte>& out, size_t entry_start) {
  // Entries are padded with DW_CFA_nop, as the linker does, and the length covers the padding.
  while ((out.size() - entry_start) % 8 != 0) append_bytes(out, kCfaNop);
}
void patch_length(std::vector<std::byte>& out, size_t entry_start) {
  const auto length = static_cast<uint32_t>(out.size() - entry_start - 4);
  std::memcpy(out.data() + entry_start, &length, 4);
}

}  // namespace

ConvertedCfi convert_debug_frame(std::span<const std::byte> debug_frame, uint64_t at) {
  ConvertedCfi out;
  cfi::CieCache cies(debug_frame, 0, CfiFormat::kDebugFrame);
  std::map<size_t, size_t> converted_cie;  // .debug_frame offset -> offset in out.bytes
  constexpr uint8_t kFdeEncoding = eh_pe::kPcrel | eh_pe::kSdata8;
  size_t pos = 0;
  while (pos < debug_frame.size()) {
    auto h = cfi::read_header(debug_frame, pos);
    if (!h) {
      out.skipped_entries++;
      break;
    }
    pos = h->end;
    if (h->terminator || cfi::is_cie(*h, CfiFormat::kDebugFrame)) continue;
    auto cie_at = cfi::cie_offset_of(*h, CfiFormat::kDebugFrame, debug_frame.size());
    const cfi::Cie* cie = cie_at ? cies.at(*cie_at) : nullptr;
    // Augmentations of .debug_frame are vendor extensions that cannot be carried over blindly.
    if (cie == nullptr || !cie->augmentation.empty() || cie->address_size != 8 ||
        cie->segment_size != 0 || cie->instructions > cie->end) {
      out.skipped_entries++;
      continue;
    }
    common::ByteReader r(debug_frame.first(h->end), h->body);
    const uint64_t start = r.u64();
    const uint64_t range = r.u64();
    if (!r.ok() || range == 0 || start + range < start) {
      out.skipped_entries++;
      continue;
    }
    auto [cie_it, first_use] = converted_cie.emplace(*cie_at, out.bytes.size());
    if (first_use) {
      const size_t entry = out.bytes.size();
      append_bytes<uint32_t>(out.bytes, 0);  // length, patched below
      append_bytes<uint32_t>(out.bytes, 0);  // CIE id of .eh_frame
      const bool wide_register = cie->return_register > 0xff;
      append_bytes<uint8_t>(out.bytes, wide_register ? 3 : 1);
      put_bytes(out.bytes, "zR", 3);
      put_uleb(out.bytes, cie->code_align);
      put_sleb(out.bytes, cie->data_align);
      if (wide_register) {
        put_uleb(out.bytes, cie->return_register);
      } else {
        append_bytes<uint8_t>(out.bytes, static_cast<uint8_t>(cie->return_register));
      }
      put_uleb(out.bytes, 1);  // augmentation data: the FDE pointer encoding
      append_bytes<uint8_t>(out.bytes, kFdeEncoding);
      put_bytes(out.bytes, debug_frame.data() + cie->instructions, cie->end - cie->instructions);
      pad_to_8(out.bytes, entry);
      patch_length(out.bytes, entry);
    }
    const size_t entry = out.bytes.size();
    append_bytes<uint32_t>(out.bytes, 0);
    // CIE pointer: from this field back to the CIE.
    append_bytes<uint32_t>(out.bytes, static_cast<uint32_t>(out.bytes.size() - cie_it->second));
    const uint64_t field = at + out.bytes.size();
    append_bytes<int64_t>(out.bytes, static_cast<int64_t>(start - field));
    append_bytes<int64_t>(out.bytes, static_cast<int64_t>(range));
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

}  // namespace ember::collector
