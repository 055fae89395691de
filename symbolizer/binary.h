#pragma once
// One binary made ready for lookups: its ELF file, separate debug file when there is one,
// function symbols and DWARF index. Shared by every process that maps it (cached by build-id).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "elf/elf_file.h"
#include "symbolizer/debug_file.h"
#include "symbolizer/dwarf_index.h"
#include "symbolizer/symbol_table.h"
#include "symbolizer/symbolizer.h"

namespace ember::symbolizer {

class Binary {
 public:
  struct Counters {
    DebugFileCounters debug;
    bool debug_file_found = false;
  };

  // Takes the opened file; looks for separate debug information when the file has no DWARF.
  // `path` is where the binary lives in its process's file system (for .gnu_debuglink).
  // An error when the symbol table is malformed; missing symbols or DWARF are not errors.
  [[nodiscard]] static Result<std::unique_ptr<Binary>> open(elf::ElfFile file, const std::string& path,
                                              const Options& options, const DebugFileSearch& search,
                                              Counters& counters);

  const elf::ElfFile& file() const { return file_; }
  // File offset (what a mapping gives) to link-time address, through PT_LOAD.
  std::optional<uint64_t> to_elf_address(uint64_t file_offset) const;
  Symbol symbolize(uint64_t elf_address);

  bool has_dwarf() const { return dwarf_ != nullptr; }
  const SymbolTable& symbols() const { return symbols_; }
  const elf::ElfFile* debug_file() const { return debug_ ? &*debug_ : nullptr; }
  // Problems worth reporting (unreadable DWARF, a malformed line table), one line each, naming
  // the file; each is returned once.
  std::vector<std::string> take_problems();
  size_t memory_bytes() const;
  // Drops the resident pages of the mapped binary and debug file (see ElfFile::release_pages).
  void release_pages() const;

 private:
  Binary(elf::ElfFile file, const Options& options) : file_(std::move(file)), options_(options) {}
  const std::string& symbol_name(const ElfSymbol& symbol);

  elf::ElfFile file_;
  std::optional<elf::ElfFile> debug_;
  Options options_;
  SymbolTable symbols_;
  std::unique_ptr<DwarfIndex> dwarf_;
  std::unordered_map<const ElfSymbol*, std::string> demangled_;  // bounded by the symbol count
  size_t demangled_bytes_ = 0;
  std::vector<std::string> problems_;
};

}  // namespace ember::symbolizer
