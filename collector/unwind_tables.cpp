#include "collector/unwind_tables.h"

#include <elf.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "elf/elf_file.h"

namespace ember::collector {

namespace {

// Where a synthesized table and converted .debug_frame go: above the binary's image, inside the
// slot, near enough to the code for the table's 32-bit offsets.
constexpr uint64_t kSynthesizedGap = 0x10000;
// Larger CFI sections than this are refused (a hostile size field must not make ember allocate
// gigabytes); the biggest real binaries have a few tens of MiB.
constexpr uint64_t kMaxSectionBytes = uint64_t{512} << 20;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

}  // namespace

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
  auto h = cfi::read_header(fde_bytes, 0);
  if (!h || h->terminator || h->dwarf64 || h->id == 0) return std::nullopt;
  const uint64_t cie = fde + h->id_field - h->id;
  std::span<const std::byte> cie_bytes = bytes_from(cie);
  auto ch = cfi::read_header(cie_bytes, 0);
  if (!ch || ch->terminator || !cfi::is_cie(*ch, CfiFormat::kEhFrame)) return std::nullopt;
  cfi::Cie parsed = cfi::parse_cie(cie_bytes, cie, *ch, CfiFormat::kEhFrame);
  if (!parsed.valid) return std::nullopt;
  common::ByteReader r(fde_bytes.first(h->end), h->body);
  uint64_t start = 0, range = 0;
  if (!cfi::read_pointer(r, parsed.fde_encoding, fde + r.pos(), std::nullopt, start) ||
      !cfi::read_pointer(r, parsed.fde_encoding & 0x0f, 0, std::nullopt, range)) {
    return std::nullopt;
  }
  if (pc < start || pc - start >= range) return std::nullopt;
  return FdeRange{start, start + range, fde};
}

void UnwindTable::compile() {
  // Every FDE the sorted table lists, in its order, as libunwind would find it.
  compiled_ = CompiledCfi(text_start_);
  std::map<uint64_t, cfi::Cie> cies;
  for (uint64_t i = 0; i < fde_count_; ++i) {
    int32_t entry[2];
    if (!read_bytes(table_address_ + i * 8, entry, 8)) break;
    const uint64_t fde = segbase_ + static_cast<uint64_t>(int64_t{entry[1]});
    std::span<const std::byte> fde_bytes = bytes_from(fde);
    auto h = cfi::read_header(fde_bytes, 0);
    if (!h || h->terminator || h->dwarf64 || h->id == 0) continue;
    const uint64_t cie_at = fde + h->id_field - h->id;
    auto known = cies.find(cie_at);
    if (known == cies.end()) {
      std::span<const std::byte> cie_bytes = bytes_from(cie_at);
      cfi::Cie parsed;
      if (auto ch = cfi::read_header(cie_bytes, 0); ch && !ch->terminator && cfi::is_cie(*ch, CfiFormat::kEhFrame)) {
        parsed = cfi::parse_cie(cie_bytes, cie_at, *ch, CfiFormat::kEhFrame);
      }
      known = cies.emplace(cie_at, std::move(parsed)).first;
    }
    const cfi::Cie& cie = known->second;
    if (!cie.valid) continue;
    common::ByteReader r(fde_bytes.first(h->end), h->body);
    uint64_t start = 0, range = 0;
    if (!cfi::read_pointer(r, cie.fde_encoding, fde + r.pos(), std::nullopt, start) ||
        !cfi::read_pointer(r, cie.fde_encoding & 0x0f, 0, std::nullopt, range)) {
      continue;
    }
    if (cie.sized_augmentation) r.skip(r.uleb());
    if (!r.ok() || range == 0 || start + range < start) continue;
    std::span<const std::byte> cie_bytes = bytes_from(cie_at);
    compiled_.add_fde(cie, cie_bytes.subspan(cie.instructions, cie.end - cie.instructions),
                      fde_bytes.subspan(r.pos(), h->end - r.pos()), fde + r.pos(), start, start + range);
  }
  compiled_.finish();
}

size_t UnwindTable::memory_bytes() const {
  size_t n = sizeof(*this) + compiled_.memory_bytes() + name_.capacity() + segments_.capacity() * sizeof(Segment) +
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
      append_bytes<int32_t>(table, static_cast<int32_t>(start));
      append_bytes<int32_t>(table, static_cast<int32_t>(fde));
      last_start = f.start;
      count++;
    }
    t->add_region(synth_at, table);
    t->segbase_ = synth_at;
    t->table_address_ = synth_at;
    t->fde_count_ = count;
  }
  t->compile();
  return t;
}

namespace {

// Reads [offset, offset + size) of the file into memory, checked against the file's size.
[[nodiscard]] Result<std::vector<std::byte>> read_file_range(const elf::ElfFile& file, uint64_t offset, uint64_t size,
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

}  // namespace ember::collector
