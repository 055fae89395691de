#pragma once
// The function symbols of one ELF file (.symtab, else .dynsym), sorted for binary search.
// Names point into the file's string table: the table must not outlive the elf::ElfFile.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "elf/elf_file.h"
#include "symbolizer/sorted_ranges.h"

namespace ember::symbolizer {

struct ElfSymbol {
  uint64_t start = 0;  // ELF virtual address
  uint64_t end = 0;    // exclusive
  std::string_view name;
  bool plt = false;    // a PLT stub calling `name` (shown as "name@plt", as perf and objdump do)
};

class SymbolTable {
 public:
  enum class Source { kNone, kSymtab, kDynsym, kGoPclntab };

  SymbolTable() = default;
  // Reads the function symbols of `file`: .symtab when it has any, else .dynsym. A file with
  // neither gives an empty table; a symbol table that lies outside the file is an error.
  [[nodiscard]] static Result<SymbolTable> read(const elf::ElfFile& file);
  // Only the given kind of table (an empty one when the file has none).
  [[nodiscard]] static Result<SymbolTable> read(const elf::ElfFile& file, Source source);
  // A table of symbols found elsewhere (Go's pclntab).
  static SymbolTable from(std::vector<ElfSymbol> symbols, Source source);

  // Adds a symbol for each PLT stub of `file` (x86-64: .plt, or .plt.sec with IBT), named after
  // the .rela.plt relocation it jumps through. Stubs have no symbols of their own, so without
  // this a sample in one shows only as module+0xOFFSET. Other files and malformed tables add
  // nothing: the names are a nicety, not worth an error.
  void add_plt_stubs(const elf::ElfFile& file);

  // The symbol whose [start, end) contains `address`. Symbols of size 0 (hand-written assembly)
  // reach to the next symbol, but not past the end of their section.
  const ElfSymbol* find(uint64_t address) const { return symbols_.find(address); }

  Source source() const { return source_; }
  size_t size() const { return symbols_.size(); }
  bool empty() const { return symbols_.empty(); }
  size_t memory_bytes() const { return symbols_.memory_bytes(); }

 private:
  SortedRanges<ElfSymbol> symbols_;
  Source source_ = Source::kNone;
};

}  // namespace ember::symbolizer
