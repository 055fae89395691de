// An ELF file read as the symbolizer reads a binary: headers, .symtab/.dynsym, PLT stubs, Go's
// pclntab, build-id and debuglink, and its DWARF when it has some; then addresses across its
// executable segments symbolized. Separate debug files are not searched (no directories).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "elf/elf_file.h"
#include "symbolizer/binary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const auto* begin = reinterpret_cast<const std::byte*>(data);
  auto file = elf::ElfFile::from_image(std::vector<std::byte>(begin, begin + size), "fuzz.elf");
  if (!file) return 0;
  (void)file->build_id();
  std::vector<elf::LoadSegment> segments = file->load_segments();
  symbolizer::Options options;
  options.debug_directories.clear();
  options.max_cache_bytes = size_t{64} << 20;
  symbolizer::DebugFileSearch search;
  search.roots.clear();
  symbolizer::Binary::Counters counters;
  auto binary = symbolizer::Binary::open(std::move(*file), "/fuzz/binary", options, search, counters);
  if (!binary) return 0;
  for (const elf::LoadSegment& s : segments) {
    if (!s.executable || s.mem_size == 0) continue;
    constexpr uint64_t kPoints = 64;
    for (uint64_t i = 0; i <= kPoints; ++i) {
      const uint64_t address = s.vaddr + s.mem_size / kPoints * i;
      (void)(*binary)->symbolize(address);
      (void)(*binary)->to_elf_address(s.file_offset + (address - s.vaddr));
    }
  }
  (void)(*binary)->take_problems();
  return 0;
}
