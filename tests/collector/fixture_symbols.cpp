#include "fixture_symbols.h"

#include <cxxabi.h>
#include <elf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace ember::collector::test {

namespace {
std::string demangle_without_parameters(const char* name) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                                  &std::free);
  std::string s = status == 0 && out ? std::string(out.get()) : std::string(name);
  if (size_t paren = s.find('('); paren != std::string::npos) s.resize(paren);
  return s;
}
}  // namespace

Result<FixtureSymbols> FixtureSymbols::load(const std::string& path) {
  auto file = elf::ElfFile::open_path(path);
  if (!file) return std::unexpected(file.error());
  const elf::SectionInfo* symtab = file->section(".symtab");
  const elf::SectionInfo* strtab = file->section(".strtab");
  if (symtab == nullptr || strtab == nullptr) {
    return make_error(ErrorCode::kMalformed, path + ": no .symtab (the fixture must not be stripped)");
  }
  auto syms = file->section_bytes(*symtab);
  auto strs = file->section_bytes(*strtab);
  if (!syms) return std::unexpected(syms.error());
  if (!strs) return std::unexpected(strs.error());
  FixtureSymbols out;
  out.segments_ = file->load_segments();
  const size_t count = syms->size() / sizeof(Elf64_Sym);
  for (size_t i = 0; i < count; ++i) {
    Elf64_Sym sym;
    std::memcpy(&sym, syms->data() + i * sizeof sym, sizeof sym);
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_size == 0 || sym.st_name >= strs->size()) continue;
    const char* name = reinterpret_cast<const char*>(strs->data()) + sym.st_name;
    out.functions_.push_back(Function{sym.st_value, sym.st_value + sym.st_size, demangle_without_parameters(name)});
  }
  std::sort(out.functions_.begin(), out.functions_.end(),
            [](const Function& a, const Function& b) { return a.start < b.start; });
  return out;
}

std::string FixtureSymbols::function_at(uint64_t file_offset) const {
  // File offset to link-time address through the executable PT_LOAD segments.
  uint64_t address = 0;
  bool found = false;
  for (const elf::LoadSegment& s : segments_) {
    if (file_offset >= s.file_offset && file_offset < s.file_offset + s.file_size) {
      address = file_offset - s.file_offset + s.vaddr;
      found = true;
      break;
    }
  }
  if (!found) return "";
  auto it = std::upper_bound(functions_.begin(), functions_.end(), address,
                             [](uint64_t a, const Function& f) { return a < f.start; });
  if (it == functions_.begin()) return "";
  --it;
  return address < it->end ? it->name : "";
}

}  // namespace ember::collector::test
