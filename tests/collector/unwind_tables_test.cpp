// Unwind tables on synthetic CFI: .eh_frame_hdr parsing (including hostile headers), walking
// .eh_frame and .debug_frame, the .debug_frame conversion, and the tables built from them.

#include "collector/unwind_table_cache.h"

#include <gtest/gtest.h>
#include <elf.h>
#include <link.h>

#include <cstring>
#include <optional>
#include <string_view>

#include "elf/elf_file.h"

namespace ember::collector {
namespace {

using Bytes = std::vector<std::byte>;

class Writer {
 public:
  Bytes bytes;
  size_t size() const { return bytes.size(); }
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof v);
  }
  void u8(uint8_t v) { put(v); }
  void str(const char* s) {
    for (; *s != 0; ++s) u8(static_cast<uint8_t>(*s));
    u8(0);
  }
  void uleb(uint64_t v) {
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      if (v != 0) b |= 0x80;
      u8(b);
    } while (v != 0);
  }
  void sleb(int64_t v) {
    bool more = true;
    while (more) {
      uint8_t b = v & 0x7f;
      v >>= 7;
      more = !((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0));
      if (more) b |= 0x80;
      u8(b);
    }
  }
  void raw(std::initializer_list<uint8_t> v) {
    for (uint8_t b : v) u8(b);
  }
  // Starts an entry with a 32-bit length to be patched by end().
  size_t begin() {
    size_t at = size();
    put<uint32_t>(0);
    return at;
  }
  void end(size_t at) {
    uint32_t len = static_cast<uint32_t>(size() - at - 4);
    std::memcpy(bytes.data() + at, &len, 4);
  }
  void patch32(size_t at, uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
};

// The usual x86-64 CIE instructions: CFA = rsp + 8, return address at CFA - 8.
const std::initializer_list<uint8_t> kCieInstructions = {0x0c, 0x07, 0x08, 0x90, 0x01};
// FDE instructions: after 4 bytes, CFA = rsp + 16.
const std::initializer_list<uint8_t> kFdeInstructions = {0x44, 0x0e, 0x10};

// .eh_frame at `address`: a "zR" CIE with pcrel|sdata4 pointers and one FDE per range.
Bytes eh_frame(uint64_t address, const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  Writer w;
  size_t cie = w.begin();
  w.put<uint32_t>(0);  // CIE id
  w.u8(1);
  w.str("zR");
  w.uleb(1);
  w.sleb(-8);
  w.u8(16);
  w.uleb(1);
  w.u8(eh_pe::kPcrel | eh_pe::kSdata4);
  w.raw(kCieInstructions);
  w.end(cie);
  for (auto [start, end] : ranges) {
    size_t fde = w.begin();
    w.put<uint32_t>(static_cast<uint32_t>(w.size() - cie));
    w.put<int32_t>(static_cast<int32_t>(start - (address + w.size())));
    w.put<int32_t>(static_cast<int32_t>(end - start));
    w.uleb(0);
    w.raw(kFdeInstructions);
    w.end(fde);
  }
  w.put<uint32_t>(0);  // terminator
  return w.bytes;
}

// .eh_frame_hdr at `address` for an .eh_frame at `eh_address` with FDEs at the given offsets.
Bytes eh_frame_hdr(uint64_t address, uint64_t eh_address, const std::vector<std::pair<uint64_t, uint64_t>>& entries) {
  Writer w;
  w.raw({1, eh_pe::kPcrel | eh_pe::kSdata4, eh_pe::kUdata4, eh_pe::kDatarel | eh_pe::kSdata4});
  w.put<int32_t>(static_cast<int32_t>(eh_address - (address + 4)));
  w.put<uint32_t>(static_cast<uint32_t>(entries.size()));
  for (auto [start, fde] : entries) {
    w.put<int32_t>(static_cast<int32_t>(start - address));
    w.put<int32_t>(static_cast<int32_t>(fde - address));
  }
  return w.bytes;
}

// .debug_frame: a version-`version` CIE without augmentation, FDEs with absolute addresses.
Bytes debug_frame(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint8_t version = 1,
                  const char* augmentation = "", uint8_t address_size = 8) {
  Writer w;
  size_t cie = w.begin();
  w.put<uint32_t>(0xffffffffu);
  w.u8(version);
  w.str(augmentation);
  if (version == 4) {
    w.u8(address_size);
    w.u8(0);
  }
  w.uleb(1);
  w.sleb(-8);
  if (version == 1) {
    w.u8(16);
  } else {
    w.uleb(16);
  }
  w.raw(kCieInstructions);
  w.end(cie);
  for (auto [start, end] : ranges) {
    size_t fde = w.begin();
    w.put<uint32_t>(static_cast<uint32_t>(cie));
    w.put<uint64_t>(start);
    w.put<uint64_t>(end - start);
    w.raw(kFdeInstructions);
    w.end(fde);
  }
  return w.bytes;
}

std::vector<elf::LoadSegment> text_segment(uint64_t vaddr, uint64_t size) {
  return {elf::LoadSegment{vaddr, vaddr, size, size, true},
          elf::LoadSegment{vaddr + size + 0x1000, vaddr + size + 0x1000, 0x100, 0x2000, false}};
}

TEST(EhFrameHdr, ParsesTheLinkersHeader) {
  Bytes hdr = eh_frame_hdr(0x2000, 0x2100, {{0x1000, 0x2118}, {0x1100, 0x2130}});
  auto h = parse_eh_frame_hdr(hdr, 0x2000);
  ASSERT_TRUE(h.has_value()) << h.error().message();
  EXPECT_EQ(h->eh_frame_address, 0x2100u);
  EXPECT_EQ(h->table_address, 0x200cu);
  EXPECT_EQ(h->fde_count, 2u);
  EXPECT_TRUE(h->has_table);
}

TEST(EhFrameHdr, HostileHeadersAreRefused) {
  Bytes good = eh_frame_hdr(0x2000, 0x2100, {{0x1000, 0x2118}});
  Bytes bad_version = good;
  bad_version[0] = std::byte{2};
  EXPECT_FALSE(parse_eh_frame_hdr(bad_version, 0x2000).has_value());
  EXPECT_FALSE(parse_eh_frame_hdr(std::span(good).first(3), 0x2000).has_value());
  EXPECT_FALSE(parse_eh_frame_hdr(std::span(good).first(6), 0x2000).has_value());
  Bytes huge_count = good;
  const uint32_t count = 0x10000000;
  std::memcpy(huge_count.data() + 8, &count, 4);
  EXPECT_FALSE(parse_eh_frame_hdr(huge_count, 0x2000).has_value());
  Bytes truncated_table = good;
  truncated_table.resize(good.size() - 1);
  EXPECT_FALSE(parse_eh_frame_hdr(truncated_table, 0x2000).has_value());
  Bytes indirect = good;
  indirect[1] = std::byte{eh_pe::kIndirect | eh_pe::kPcrel | eh_pe::kSdata4};
  EXPECT_FALSE(parse_eh_frame_hdr(indirect, 0x2000).has_value());
  Bytes unknown_encoding = good;
  unknown_encoding[1] = std::byte{0x0f};
  EXPECT_FALSE(parse_eh_frame_hdr(unknown_encoding, 0x2000).has_value());
  // A table libunwind cannot search (not datarel|sdata4) is no error, just no table.
  Bytes other_table = good;
  other_table[3] = std::byte{eh_pe::kUdata4};
  auto h = parse_eh_frame_hdr(other_table, 0x2000);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->has_table);
}

TEST(CfiScan, FindsEveryFdeOfEhFrame) {
  Bytes eh = eh_frame(0x3000, {{0x1000, 0x1040}, {0x1040, 0x1100}});
  CfiScan scan = scan_cfi(eh, 0x3000, CfiFormat::kEhFrame);
  ASSERT_EQ(scan.fdes.size(), 2u);
  EXPECT_EQ(scan.fdes[0].start, 0x1000u);
  EXPECT_EQ(scan.fdes[0].end, 0x1040u);
  EXPECT_EQ(scan.fdes[1].start, 0x1040u);
  EXPECT_EQ(scan.bad_entries, 0u);
  EXPECT_FALSE(scan.truncated);
}

TEST(CfiScan, BadEntriesAreSkippedAndCounted) {
  Bytes eh = eh_frame(0x3000, {{0x1000, 0x1040}, {0x1040, 0x1100}});
  // The first FDE's CIE pointer now points before the section.
  Bytes wild = eh;
  const size_t first_fde = 4 + 4 + 1 + 3 + 1 + 1 + 1 + 1 + 1 + kCieInstructions.size();
  const uint32_t far = 0x7fffffff;
  std::memcpy(wild.data() + first_fde + 4, &far, 4);
  CfiScan scan = scan_cfi(wild, 0x3000, CfiFormat::kEhFrame);
  EXPECT_EQ(scan.fdes.size(), 1u);
  EXPECT_EQ(scan.bad_entries, 1u);
  // A length running past the end ends the walk.
  Bytes cut(eh.begin(), eh.begin() + static_cast<long>(eh.size() - 10));
  scan = scan_cfi(cut, 0x3000, CfiFormat::kEhFrame);
  EXPECT_TRUE(scan.truncated);
  EXPECT_EQ(scan.fdes.size(), 1u);
  // Garbage of every length never crashes and never reads outside.
  for (size_t n = 0; n < eh.size(); ++n) {
    Bytes prefix(eh.begin(), eh.begin() + static_cast<long>(n));
    (void)scan_cfi(prefix, 0x3000, CfiFormat::kEhFrame);
    (void)scan_cfi(prefix, 0, CfiFormat::kDebugFrame);
  }
}

TEST(DebugFrame, ConvertsToEhFrameFormWithTheSameRangesAndInstructions) {
  Bytes df = debug_frame({{0x1000, 0x1040}, {0x1080, 0x1200}});
  CfiScan direct = scan_cfi(df, 0, CfiFormat::kDebugFrame);
  ASSERT_EQ(direct.fdes.size(), 2u);
  constexpr uint64_t kAt = 0x50000;
  ConvertedCfi c = convert_debug_frame(df, kAt);
  EXPECT_EQ(c.skipped_entries, 0u);
  ASSERT_EQ(c.fdes.size(), 2u);
  EXPECT_EQ(c.fdes[0].start, 0x1000u);
  EXPECT_EQ(c.fdes[1].end, 0x1200u);
  // Read back as .eh_frame where it will be served: the pcrel pointers land on the same code.
  CfiScan back = scan_cfi(c.bytes, kAt, CfiFormat::kEhFrame);
  EXPECT_EQ(back.bad_entries, 0u);
  ASSERT_EQ(back.fdes.size(), 2u);
  EXPECT_EQ(back.fdes[0], c.fdes[0]);
  EXPECT_EQ(back.fdes[1], c.fdes[1]);
  // The CIE's and the FDEs' instructions are carried over byte for byte.
  auto contains = [&](std::initializer_list<uint8_t> seq) {
    Bytes needle;
    for (uint8_t b : seq) needle.push_back(std::byte{b});
    return std::search(c.bytes.begin(), c.bytes.end(), needle.begin(), needle.end()) != c.bytes.end();
  };
  EXPECT_TRUE(contains(kCieInstructions));
  EXPECT_TRUE(contains(kFdeInstructions));
}

TEST(DebugFrame, VersionsAndFormsLibunwindDoesNotReadAreHandledOrSkipped) {
  // Version 4 CIEs (DWARF 5) lose their address and segment sizes in the conversion.
  ConvertedCfi v4 = convert_debug_frame(debug_frame({{0x1000, 0x1010}}, 4), 0x9000);
  ASSERT_EQ(v4.fdes.size(), 1u);
  EXPECT_EQ(scan_cfi(v4.bytes, 0x9000, CfiFormat::kEhFrame).fdes.size(), 1u);
  // 4-byte addresses and vendor augmentations are not carried over.
  EXPECT_EQ(convert_debug_frame(debug_frame({{0x1000, 0x1010}}, 4, "", 4), 0x9000).fdes.size(), 0u);
  ConvertedCfi aug = convert_debug_frame(debug_frame({{0x1000, 0x1010}}, 1, "xy"), 0x9000);
  EXPECT_EQ(aug.fdes.size(), 0u);
  EXPECT_EQ(aug.skipped_entries, 1u);
  // Truncated input converts what is whole.
  Bytes df = debug_frame({{0x1000, 0x1010}, {0x2000, 0x2010}});
  for (size_t n = 0; n < df.size(); ++n) {
    ConvertedCfi part = convert_debug_frame(std::span(df).first(n), 0x9000);
    EXPECT_LE(part.fdes.size(), 2u);
  }
}

TEST(UnwindTable, UsesTheLinkersTableWhenThereIsOne) {
  // .eh_frame_hdr at 0x2000, .eh_frame right after it.
  constexpr uint64_t kHdr = 0x2000;
  Bytes hdr_probe = eh_frame_hdr(kHdr, 0, {{0, 0}, {0, 0}});
  const uint64_t eh_at = kHdr + hdr_probe.size();
  Bytes eh = eh_frame(eh_at, {{0x1000, 0x1040}, {0x1040, 0x1100}});
  CfiScan scan = scan_cfi(eh, eh_at, CfiFormat::kEhFrame);
  ASSERT_EQ(scan.fdes.size(), 2u);
  Bytes hdr = eh_frame_hdr(kHdr, eh_at, {{0x1000, scan.fdes[0].fde_address}, {0x1040, scan.fdes[1].fde_address}});
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);
  s.eh_frame_hdr = hdr;
  s.eh_frame_hdr_address = kHdr;
  s.eh_frame = eh;
  s.eh_frame_address = eh_at;
  auto t = UnwindTable::build(s, "synthetic");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kEhFrameHdr);
  EXPECT_EQ((*t)->segbase(), kHdr);
  EXPECT_EQ((*t)->fde_count(), 2u);
  auto f = (*t)->find_fde(0x1050);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->start, 0x1040u);
  EXPECT_EQ(f->end, 0x1100u);
  EXPECT_FALSE((*t)->find_fde(0x1100).has_value());  // past the last FDE's range
  EXPECT_FALSE((*t)->find_fde(0xfff).has_value());
  // The header's last table entry and the start of .eh_frame share an aligned word: both intact.
  uint64_t w = 0;
  EXPECT_TRUE((*t)->read_word(eh_at & ~uint64_t{7}, w));
  EXPECT_TRUE((*t)->find_fde(0x1000).has_value());
}

TEST(UnwindTable, AHostileHeaderCannotLeadReadsOutsideTheCopies) {
  constexpr uint64_t kHdr = 0x2000;
  const uint64_t eh_at = 0x2100;
  Bytes eh = eh_frame(eh_at, {{0x1000, 0x1040}});
  // Entries pointing far outside .eh_frame, and out of order.
  Bytes hdr = eh_frame_hdr(kHdr, eh_at, {{0x1800, 0x7ffffff0}, {0x1000, kHdr - 0x1000000}});
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);
  s.eh_frame_hdr = hdr;
  s.eh_frame_hdr_address = kHdr;
  s.eh_frame = eh;
  s.eh_frame_address = eh_at;
  auto t = UnwindTable::build(s, "hostile");
  ASSERT_TRUE(t.has_value());
  for (uint64_t pc = 0xff0; pc < 0x2010; pc += 4) EXPECT_FALSE((*t)->find_fde(pc).has_value()) << pc;
  uint64_t w;
  EXPECT_FALSE((*t)->read_word(kHdr - 0x1000000, w));
  EXPECT_FALSE((*t)->read_word(0x7ffffff0 + kHdr, w));
}

TEST(UnwindTable, WithoutAHeaderBuildsItsOwnTableFromEhFrame) {
  const uint64_t eh_at = 0x2100;
  Bytes eh = eh_frame(eh_at, {{0x1100, 0x1200}, {0x1000, 0x1040}});  // unsorted in the section
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);
  s.eh_frame = eh;
  s.eh_frame_address = eh_at;
  auto t = UnwindTable::build(s, "no-hdr");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kEhFrame);
  EXPECT_EQ((*t)->fde_count(), 2u);
  ASSERT_TRUE((*t)->find_fde(0x1010).has_value());
  EXPECT_EQ((*t)->find_fde(0x1010)->start, 0x1000u);
  ASSERT_TRUE((*t)->find_fde(0x11ff).has_value());
  EXPECT_FALSE((*t)->find_fde(0x1050).has_value());  // a gap between FDEs
}

TEST(UnwindTable, DebugFrameFillsWhatEhFrameLeavesOut) {
  // As with -fno-asynchronous-unwind-tables -g: .eh_frame covers only _start (0x1000..0x1020),
  // .debug_frame covers the program, including _start again.
  const uint64_t eh_at = 0x2100;
  Bytes eh = eh_frame(eh_at, {{0x1000, 0x1020}});
  Bytes df = debug_frame({{0x1000, 0x1030}, {0x1040, 0x1080}, {0x1080, 0x1100}});
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);
  s.eh_frame = eh;
  s.eh_frame_address = eh_at;
  s.debug_frame = df;
  auto t = UnwindTable::build(s, "debug-frame");
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kDebugFrame);
  auto start = (*t)->find_fde(0x1010);
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->end, 0x1020u);  // .eh_frame's description wins
  EXPECT_GE(start->fde_address, eh_at);
  EXPECT_LT(start->fde_address, eh_at + eh.size());
  auto leaf = (*t)->find_fde(0x1090);
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(leaf->start, 0x1080u);
  EXPECT_GT(leaf->fde_address, 0x3000u);  // in the converted copy, above the image
  EXPECT_TRUE((*t)->find_fde(0x1040).has_value());
  EXPECT_FALSE((*t)->find_fde(0x1030).has_value());
}

TEST(UnwindTable, NoCfiAtAllIsAnError) {
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);
  EXPECT_FALSE(UnwindTable::build(s, "none").has_value());
  s.segments.clear();
  Bytes df = debug_frame({{0x1000, 0x1010}});
  s.debug_frame = df;
  EXPECT_FALSE(UnwindTable::build(s, "no text").has_value());
}

TEST(UnwindTable, ReadsBssAsZerosAndNothingElseOutsideItsCopies) {
  UnwindTable::Sections s;
  s.segments = text_segment(0x1000, 0x1000);  // data at 0x3000: 0x100 bytes of file, 0x2000 in memory
  Bytes df = debug_frame({{0x1000, 0x1010}});
  s.debug_frame = df;
  auto t = UnwindTable::build(s, "bss");
  ASSERT_TRUE(t.has_value());
  uint64_t w = 1;
  EXPECT_TRUE((*t)->read_word(0x3200, w));
  EXPECT_EQ(w, 0u);
  EXPECT_FALSE((*t)->read_word(0x3000, w));  // file-backed data that was not kept
  EXPECT_FALSE((*t)->read_word(0x100000, w));
}

int first_object(struct dl_phdr_info* info, size_t, void* data) {
  *static_cast<uint64_t*>(data) = info->dlpi_addr;
  return 1;  // the executable comes first
}

TEST(UnwindTable, LoadsTheTestBinarysOwnTable) {
  auto file = elf::ElfFile::open_path("/proc/self/exe");
  ASSERT_TRUE(file.has_value());
  auto t = UnwindTable::load(*file);
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kEhFrameHdr);
  uint64_t bias = 0;
  dl_iterate_phdr(first_object, &bias);
  const uint64_t pc = reinterpret_cast<uint64_t>(&first_object) - bias;
  auto f = (*t)->find_fde(pc);
  ASSERT_TRUE(f.has_value());
  EXPECT_LE(f->start, pc);
  EXPECT_GT(f->end, pc);
}

// Link-time address of a function in a fixture, from its .symtab.
std::optional<uint64_t> symbol_address(const elf::ElfFile& file, std::string_view name) {
  const elf::SectionInfo* symtab = file.section(".symtab");
  const elf::SectionInfo* strtab = file.section(".strtab");
  if (symtab == nullptr || strtab == nullptr) return std::nullopt;
  auto syms = file.section_bytes(*symtab);
  auto strs = file.section_bytes(*strtab);
  if (!syms || !strs) return std::nullopt;
  for (size_t i = 0; i + sizeof(Elf64_Sym) <= syms->size(); i += sizeof(Elf64_Sym)) {
    Elf64_Sym sym;
    std::memcpy(&sym, syms->data() + i, sizeof sym);
    if (sym.st_name >= strs->size()) continue;
    const char* n = reinterpret_cast<const char*>(strs->data()) + sym.st_name;
    if (name == std::string_view(n, strnlen(n, strs->size() - sym.st_name))) return sym.st_value;
  }
  return std::nullopt;
}

TEST(UnwindTable, ABinaryBuiltWithoutUnwindTablesIsDescribedByItsDebugFrame) {
  const std::string path = std::string(EMBER_NOFP_DIR) + "/nofp_debug_frame";
  auto file = elf::ElfFile::open_path(path);
  ASSERT_TRUE(file.has_value()) << file.error().message();
  ASSERT_NE(file->section(".debug_frame"), nullptr);
  auto t = UnwindTable::load(*file);
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kDebugFrame);
  for (const char* function : {"df_leaf", "df_middle", "df_outer", "main", "_start"}) {
    auto address = symbol_address(*file, function);
    ASSERT_TRUE(address.has_value()) << function;
    auto fde = (*t)->find_fde(*address + 1);
    ASSERT_TRUE(fde.has_value()) << function;
    EXPECT_LE(fde->start, *address) << function;
  }
}

TEST(UnwindTable, AStrippedBinaryKeepsItsEhFrame) {
  auto file = elf::ElfFile::open_path(std::string(EMBER_NOFP_DIR) + "/nofp_debuglink");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->section(".symtab"), nullptr);
  auto t = UnwindTable::load(*file);
  ASSERT_TRUE(t.has_value()) << t.error().message();
  EXPECT_EQ((*t)->source(), UnwindTable::Source::kEhFrameHdr);
}

TEST(UnwindTableCache, BoundedByCountWithEvictionBetweenSamples) {
  UnwindTableCache cache(UnwindTableCache::Limits{2, size_t{1} << 30});
  auto make = [] {
    UnwindTable::Sections s;
    s.segments = text_segment(0x1000, 0x1000);
    Bytes df = debug_frame({{0x1000, 0x1010}});
    s.debug_frame = df;
    return std::move(*UnwindTable::build(s, "t"));
  };
  auto a = cache.insert("a", make());
  auto b = cache.insert("b", make());
  auto c = cache.insert("c", make());
  EXPECT_NE(a.slot, b.slot);
  EXPECT_NE(b.slot, c.slot);
  // Over the bound until trim(): what one sample found stays readable during that sample.
  EXPECT_EQ(cache.in_slot(a.slot), a.table);
  EXPECT_EQ(cache.generation(), 0u);
  cache.trim();
  EXPECT_EQ(cache.in_slot(a.slot), nullptr);
  EXPECT_EQ(cache.in_slot(c.slot), c.table);
  EXPECT_EQ(cache.generation(), 1u);
  EXPECT_EQ(cache.stats().evicted, 1u);
  EXPECT_EQ(cache.stats().tables, 2u);
}

}  // namespace
}  // namespace ember::collector
