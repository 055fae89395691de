#include "symbolizer/binary.h"

#include <utility>

#include "symbolizer/demangle.h"
#include "symbolizer/go_pclntab.h"

namespace ember::symbolizer {

Result<std::unique_ptr<Binary>> Binary::open(elf::ElfFile file, const std::string& path,
                                             const Options& options, const DebugFileSearch& search,
                                             Counters& counters) {
  std::unique_ptr<Binary> binary(new Binary(std::move(file), options));
  const elf::ElfFile& main = binary->file_;
  bool has_own_dwarf = DwarfIndex::has_debug_info(main);
  if (!has_own_dwarf || main.section(".symtab") == nullptr) {
    binary->debug_ = find_debug_file(main, path, search, counters.debug);
    counters.debug_file_found = binary->debug_.has_value();
  }

  // The fullest symbol table: the binary's own .symtab, else the debug file's (objcopy
  // --only-keep-debug keeps it), else the exported .dynsym.
  auto symtab = SymbolTable::read(main, SymbolTable::Source::kSymtab);
  if (!symtab) return std::unexpected(symtab.error());
  if (symtab->empty() && binary->debug_) {
    auto debug_symtab = SymbolTable::read(*binary->debug_, SymbolTable::Source::kSymtab);
    if (debug_symtab) {
      symtab = std::move(debug_symtab);
    } else {
      binary->problems_.push_back(debug_symtab.error().message());
    }
  }
  if (symtab->empty()) {
    // A stripped Go program: the runtime's own pc-line table names every function (its .dynsym,
    // when cgo gave it one, only a few C exports).
    auto go = read_go_functions(main);
    if (!go) {
      binary->problems_.push_back(go.error().message());
    } else if (!go->empty()) {
      symtab = SymbolTable::from(std::move(*go), SymbolTable::Source::kGoPclntab);
    }
  }
  if (symtab->empty()) {
    symtab = SymbolTable::read(main, SymbolTable::Source::kDynsym);
    if (!symtab) return std::unexpected(symtab.error());
  }
  binary->symbols_ = std::move(*symtab);
  binary->symbols_.add_plt_stubs(main);

  DwarfIndex::Settings settings;
  settings.demangle = options.demangle;
  settings.full_names = options.full_names;
  settings.inline_frames = options.inline_frames;
  settings.line_numbers = options.line_numbers;
  settings.max_bytes = options.max_cache_bytes;
  const elf::ElfFile* dwarf_file = has_own_dwarf ? &binary->file_
                                   : binary->debug_ && DwarfIndex::has_debug_info(*binary->debug_)
                                       ? &*binary->debug_
                                       : nullptr;
  if (dwarf_file != nullptr) {
    auto dwarf = DwarfIndex::open(*dwarf_file, settings);
    if (dwarf) {
      binary->dwarf_ = std::move(*dwarf);
    } else {
      binary->problems_.push_back(dwarf.error().message());
    }
  }
  return binary;
}

std::optional<uint64_t> Binary::to_elf_address(uint64_t file_offset) const {
  auto address = file_.to_elf_address(common::FileOffset(file_offset));
  if (!address) return std::nullopt;
  return address->value();
}

const std::string& Binary::symbol_name(const ElfSymbol& symbol) {
  auto [it, inserted] = demangled_.try_emplace(&symbol);
  if (inserted) {
    it->second = options_.demangle ? demangle(symbol.name, options_.full_names) : std::string(symbol.name);
    if (symbol.plt) it->second += "@plt";
    demangled_bytes_ += it->second.capacity() + 48;
  }
  return it->second;
}

Symbol Binary::symbolize(uint64_t elf_address) {
  Symbol out;
  DwarfIndex::Found found = DwarfIndex::Found::kNothing;
  if (dwarf_) found = dwarf_->lookup(elf_address, out.frames);
  const ElfSymbol* symbol = symbols_.find(elf_address);
  if (symbol == nullptr) {
    // A line without a function is not worth a frame: the address stays "module+0xOFFSET".
    if (found != DwarfIndex::Found::kFunctions) out.frames.clear();
    return out;
  }
  if (out.frames.empty()) out.frames.emplace_back();
  // The function the code was compiled into (the last frame) is named by its symbol, as
  // llvm-symbolizer does: DWARF may know only a plain name ("TestBody" of a class in an anonymous
  // namespace), and the symbol says which copy the code is ("f.cold", "f.isra.0").
  Frame& outer = out.frames.back();
  outer.function = symbol_name(*symbol);
  outer.system_name = std::string(symbol->name);
  if (symbol->plt) outer.system_name += "@plt";
  return out;
}

std::vector<std::string> Binary::take_problems() {
  std::vector<std::string> out = std::exchange(problems_, {});
  if (dwarf_) {
    for (auto& e : dwarf_->take_errors()) out.push_back(std::move(e));
  }
  return out;
}

void Binary::release_pages() const {
  file_.release_pages();
  if (debug_) debug_->release_pages();
}

size_t Binary::memory_bytes() const {
  return sizeof(Binary) + symbols_.memory_bytes() + (dwarf_ ? dwarf_->memory_bytes() : 0) +
         demangled_bytes_;
}

}  // namespace ember::symbolizer
