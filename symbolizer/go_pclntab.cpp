#include "symbolizer/go_pclntab.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <string_view>

#include "common/byte_reader.h"

namespace ember::symbolizer {

namespace {

// The pcHeader magics (runtime/symtab.go).
constexpr uint32_t kGo12 = 0xfffffffb;
constexpr uint32_t kGo116 = 0xfffffffa;
constexpr uint32_t kGo118 = 0xfffffff0;
constexpr uint32_t kGo120 = 0xfffffff1;

// Reads are random access over the section (Go's ELF targets that ember profiles, amd64 and
// arm64, are little-endian).
using Reader = common::ByteReader;
// Go's longest generic instantiations stay well below this.
constexpr size_t kMaxNameLength = 4096;

struct Layout {
  uint32_t magic = 0;
  unsigned ptr = 8;
  uint64_t nfunc = 0;
  uint64_t text_start = 0;   // 1.18+: function entries are offsets from here
  uint64_t funcnames = 0;    // where name offsets count from
  uint64_t functab = 0;      // the (entry, funcoff) pairs
  uint64_t func_base = 0;    // where funcoff counts from
  unsigned entry_size = 0;   // bytes of each functab field: 4 (1.18+) or ptr
};

Result<Layout> layout(const Reader& r, const elf::ElfFile& file) {
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: .gopclntab: {}", file.name(), what));
  };
  Layout l;
  auto magic = r.uint_at(0, 4);
  auto pad = r.uint_at(4, 2);
  auto ptr = r.uint_at(7, 1);
  if (!magic || !pad || !ptr) return bad("shorter than its header");
  l.magic = static_cast<uint32_t>(*magic);
  if (*pad != 0 || (*ptr != 4 && *ptr != 8)) return bad("not a Go pc-line table header");
  l.ptr = static_cast<unsigned>(*ptr);
  auto field = [&](unsigned i) { return r.uint_at(8 + uint64_t{i} * l.ptr, l.ptr); };
  auto nfunc = field(0);
  if (!nfunc) return bad("shorter than its header");
  l.nfunc = *nfunc;
  switch (l.magic) {
    case kGo118:
    case kGo120: {
      // nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
      auto text = field(2), names = field(3), pcln = field(7);
      if (!text || !names || !pcln) return bad("shorter than its header");
      l.text_start = *text;
      l.funcnames = *names;
      l.functab = l.func_base = *pcln;
      l.entry_size = 4;
      break;
    }
    case kGo116: {
      // nfunc, nfiles, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset
      auto names = field(2), pcln = field(6);
      if (!names || !pcln) return bad("shorter than its header");
      l.funcnames = *names;
      l.functab = l.func_base = *pcln;
      l.entry_size = l.ptr;
      break;
    }
    case kGo12:
      l.functab = 8 + uint64_t{l.ptr};
      l.func_base = 0;
      l.funcnames = 0;
      l.entry_size = l.ptr;
      break;
    default:
      return bad(fmt::format("unknown version (magic {:#x})", l.magic));
  }
  // Each function takes a functab pair and more; a count the section cannot hold is a lie.
  if (l.nfunc == 0 || l.nfunc > r.end() / (2 * l.entry_size)) return bad("function count does not fit the table");
  return l;
}

}  // namespace

Result<std::vector<ElfSymbol>> read_go_functions(const elf::ElfFile& file) {
  std::vector<ElfSymbol> out;
  const elf::SectionInfo* section = file.section(".gopclntab");
  if (section == nullptr || !file.has_section_data(".gopclntab")) return out;
  auto bytes = file.section_bytes(*section);
  if (!bytes) return std::unexpected(bytes.error());
  Reader r(*bytes);
  auto l = layout(r, file);
  if (!l) return std::unexpected(l.error());
  if ((l->magic == kGo118 || l->magic == kGo120) && l->text_start == 0) {
    // Position-independent builds leave textStart to a dynamic relocation; runtime.text is the
    // start of .text.
    if (const elf::SectionInfo* text = file.section(".text")) l->text_start = text->address;
  }

  const uint64_t pair = 2 * uint64_t{l->entry_size};
  auto entry_at = [&](uint64_t i) -> std::optional<uint64_t> {
    auto v = r.uint_at(l->functab + i * pair, l->entry_size);
    if (!v) return std::nullopt;
    return l->entry_size == 4 ? l->text_start + *v : *v;
  };
  out.reserve(l->nfunc);
  // The table ends with one more entry: the end of the last function.
  auto end = entry_at(l->nfunc);
  if (!end) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: .gopclntab: function table runs past the section", file.name()));
  }
  for (uint64_t i = 0; i < l->nfunc; ++i) {
    auto entry = entry_at(i);
    auto next = i + 1 < l->nfunc ? entry_at(i + 1) : end;
    auto funcoff = r.uint_at(l->functab + i * pair + l->entry_size, l->entry_size);
    if (!entry || !next || !funcoff) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: .gopclntab: function table runs past the section", file.name()));
    }
    // _func: the entry (4 bytes from 1.18, a pointer before), then the name offset.
    uint64_t func = l->func_base + *funcoff;
    auto name_offset = r.uint_at(func + l->entry_size, 4);
    if (!name_offset) continue;
    auto name = r.cstr_at(l->funcnames + *name_offset, kMaxNameLength);
    if (!name || name->empty() || *next <= *entry) continue;
    out.push_back(ElfSymbol{*entry, *next, *name});
  }
  return out;
}

}  // namespace ember::symbolizer
