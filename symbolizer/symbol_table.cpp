#include "symbolizer/symbol_table.h"

#include <elf.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace ember::symbolizer {

namespace {

struct Candidate {
  uint64_t start;
  uint64_t size;
  std::string_view name;
  int binding_rank;  // lower wins
  uint32_t section;  // 0: unknown
  bool label;        // STT_NOTYPE in code: hand-written assembly's entry points (ld.so's _start)
};

int binding_rank(unsigned char binding) {
  switch (binding) {
    case STB_GLOBAL:
    case STB_GNU_UNIQUE:
      return 0;
    case STB_WEAK:
      return 1;
    case STB_LOCAL:
      return 2;
    default:
      return 3;
  }
}

size_t leading_underscores(std::string_view name) {
  size_t n = 0;
  while (n < name.size() && name[n] == '_') ++n;
  return n;
}

// Of several names for one address, the one people know: a function before a label, global before
// weak before local
// (perf's choice too), then fewer leading underscores ("malloc" over "__libc_malloc"), then the
// alphabetically first, so that the choice never depends on the order of the table.
bool better(const Candidate& a, const Candidate& b) {
  // Reserved-name aliases ("_Z" names start with one underscore and are not penalized).
  auto key = [](const Candidate& c) {
    size_t underscores = leading_underscores(c.name);
    if (c.name.starts_with("_Z") || c.name.starts_with("_R")) underscores = 0;
    return std::make_tuple(c.label, c.binding_rank, underscores, c.name);
  };
  return key(a) < key(b);
}

const elf::SectionInfo* find_table(const elf::ElfFile& file, uint32_t type) {
  for (const auto& s : file.sections()) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

}  // namespace

Result<SymbolTable> SymbolTable::read(const elf::ElfFile& file) {
  auto symtab = read(file, Source::kSymtab);
  if (!symtab) return symtab;
  if (!symtab->empty()) return symtab;
  return read(file, Source::kDynsym);
}

Result<SymbolTable> SymbolTable::read(const elf::ElfFile& file, Source source) {
  SymbolTable table;
  if (source == Source::kNone) return table;
  const elf::SectionInfo* info =
      find_table(file, source == Source::kSymtab ? SHT_SYMTAB : SHT_DYNSYM);
  if (info == nullptr) return table;
  const char* table_name = source == Source::kSymtab ? ".symtab" : ".dynsym";
  if (auto bytes = file.section_bytes(*info); !bytes) return std::unexpected(bytes.error());

  Elf* elf = file.handle();
  Elf_Scn* scn = elf_getscn(elf, info->index);
  GElf_Shdr shdr;
  if (scn == nullptr || gelf_getshdr(scn, &shdr) == nullptr) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: cannot read the header of {}: {}", file.name(), table_name,
                                  elf_errmsg(-1)));
  }
  Elf_Data* data = elf_getdata(scn, nullptr);
  if (data == nullptr) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: cannot read {}: {}", file.name(),
                                                         table_name, elf_errmsg(-1)));
  }
  size_t entry_size = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
  if (entry_size == 0) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: bad ELF class", file.name()));
  }
  size_t count = data->d_size / entry_size;

  // Section extents, for symbols of size 0: they end where their section ends at the latest.
  std::unordered_map<size_t, std::pair<uint64_t, uint64_t>> section_extent;
  std::unordered_map<size_t, bool> executable;
  for (const auto& s : file.sections()) {
    section_extent.emplace(s.index, std::pair{s.address, s.size});
    executable.emplace(s.index, (s.flags & SHF_EXECINSTR) != 0);
  }

  std::vector<Candidate> candidates;
  candidates.reserve(count / 2);
  for (size_t i = 1; i < count; ++i) {  // entry 0 is the reserved null symbol
    GElf_Sym sym;
    if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) continue;
    unsigned char type = GELF_ST_TYPE(sym.st_info);
    if (sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS || sym.st_value == 0) continue;
    uint32_t section = sym.st_shndx < SHN_LORESERVE ? sym.st_shndx : 0;
    // Untyped symbols count only in code, as perf counts them: entry points written in assembly
    // without .type (ld.so's _start); in data they are markers such as _edata.
    bool label = type == STT_NOTYPE;
    if (label) {
      auto it = executable.find(section);
      if (it == executable.end() || !it->second) continue;
    } else if (type != STT_FUNC && type != STT_GNU_IFUNC) {
      continue;
    }
    const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
    if (name == nullptr || name[0] == '\0' || (label && name[0] == '.')) continue;
    candidates.push_back(Candidate{sym.st_value, sym.st_size, name,
                                   binding_rank(GELF_ST_BIND(sym.st_info)), section, label});
  }

  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.start != b.start) return a.start < b.start;
    return better(a, b);
  });
  // A label inside a function with a size is a jump target of that function, not a name for the
  // code after it.
  uint64_t function_end = 0;
  size_t kept = 0;
  for (const Candidate& c : candidates) {
    if (c.label && c.start < function_end) continue;
    if (!c.label && c.start + c.size > c.start) function_end = std::max(function_end, c.start + c.size);
    candidates[kept++] = c;
  }
  candidates.resize(kept);

  table.symbols_.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size();) {
    // One symbol per address: the best name, the largest size any alias declares.
    const Candidate& best = candidates[i];
    uint64_t size = 0;
    size_t j = i;
    for (; j < candidates.size() && candidates[j].start == best.start; ++j) {
      size = std::max(size, candidates[j].size);
    }
    uint64_t end = best.start + size;
    if (end < best.start) end = UINT64_MAX;  // a hostile size that wraps
    if (size == 0) {
      // Reaches to the next symbol, within its section.
      end = j < candidates.size() ? candidates[j].start : UINT64_MAX;
      auto extent = best.section != 0 ? section_extent.find(best.section) : section_extent.end();
      if (extent != section_extent.end()) {
        auto [address, section_size] = extent->second;
        if (best.start >= address && best.start - address < section_size) {
          end = std::min(end, address + section_size);
        }
      }
      if (end == UINT64_MAX) end = best.start + 1;
    }
    table.symbols_.add(ElfSymbol{best.start, end, best.name});
    i = j;
  }
  table.symbols_.finish();
  table.source_ = source;
  return table;
}

SymbolTable SymbolTable::from(std::vector<ElfSymbol> symbols, Source source) {
  SymbolTable table;
  table.symbols_.reserve(symbols.size());
  for (ElfSymbol& symbol : symbols) table.symbols_.add(symbol);
  table.symbols_.finish();
  table.source_ = source;
  return table;
}

void SymbolTable::add_plt_stubs(const elf::ElfFile& file) {
  constexpr uint64_t kStubSize = 16;  // x86-64 PLT entries, lazy or IBT
  Elf* elf = file.handle();
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf, &ehdr) == nullptr || ehdr.e_machine != EM_X86_64) return;
  const elf::SectionInfo* rela = file.section(".rela.plt");
  const elf::SectionInfo* plt_sec = file.section(".plt.sec");
  const elf::SectionInfo* plt = file.section(".plt");
  if (rela == nullptr || rela->type != SHT_RELA || (plt_sec == nullptr && plt == nullptr)) return;
  // With IBT the stubs are in .plt.sec from its start; otherwise .plt begins with the resolver.
  const elf::SectionInfo& stubs = plt_sec != nullptr ? *plt_sec : *plt;
  const uint64_t first = stubs.address + (plt_sec != nullptr ? 0 : kStubSize);
  if (stubs.type != SHT_PROGBITS || !file.section_bytes(*rela)) return;

  Elf_Scn* rela_scn = elf_getscn(elf, rela->index);
  GElf_Shdr rela_shdr;
  if (rela_scn == nullptr || gelf_getshdr(rela_scn, &rela_shdr) == nullptr) return;
  Elf_Scn* dynsym_scn = elf_getscn(elf, rela_shdr.sh_link);
  GElf_Shdr dynsym_shdr;
  if (dynsym_scn == nullptr || gelf_getshdr(dynsym_scn, &dynsym_shdr) == nullptr ||
      dynsym_shdr.sh_type != SHT_DYNSYM) {
    return;
  }
  Elf_Data* relocations = elf_getdata(rela_scn, nullptr);
  Elf_Data* dynsyms = elf_getdata(dynsym_scn, nullptr);
  if (relocations == nullptr || dynsyms == nullptr) return;
  size_t entry_size = gelf_fsize(elf, ELF_T_RELA, 1, EV_CURRENT);
  if (entry_size == 0) return;
  const size_t count = relocations->d_size / entry_size;
  const size_t slots = stubs.size / kStubSize - (plt_sec != nullptr ? 0 : 1);
  if (count == 0 || stubs.size / kStubSize == 0 || count > slots) return;  // not the layout we know

  std::vector<ElfSymbol> added;  // looked up against the table as it was, then added at once
  for (size_t i = 0; i < count; ++i) {
    GElf_Rela r;
    GElf_Sym sym;
    if (gelf_getrela(relocations, static_cast<int>(i), &r) == nullptr) return;
    size_t index = GELF_R_SYM(r.r_info);
    if (index == 0 || gelf_getsym(dynsyms, static_cast<int>(index), &sym) == nullptr) continue;  // IRELATIVE
    const char* name = elf_strptr(elf, dynsym_shdr.sh_link, sym.st_name);
    if (name == nullptr || name[0] == '\0') continue;
    uint64_t start = first + i * kStubSize;
    // A symbol already there (some linkers name stubs) keeps its place.
    if (const ElfSymbol* existing = symbols_.find(start); existing != nullptr && existing->start == start) continue;
    added.push_back(ElfSymbol{start, start + kStubSize, name, true});
  }
  if (added.empty()) return;
  for (ElfSymbol& symbol : added) symbols_.add(symbol);
  symbols_.finish();
}

}  // namespace ember::symbolizer
