// DWARF read from an ELF file as the symbolizer indexes it: compilation units and their ranges
// (.debug_aranges, .debug_rnglists/.debug_ranges), DIE trees of functions and inlined calls
// (ember's own DIE reader), and line tables, looked up at addresses across the file's executable
// segments. The seeds are debug files (objcopy --only-keep-debug) so that mutations land in DWARF.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "elf/elf_file.h"
#include "symbolizer/dwarf_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember;
  const auto* begin = reinterpret_cast<const std::byte*>(data);
  auto file = elf::ElfFile::from_image(std::vector<std::byte>(begin, begin + size), "fuzz.debug");
  if (!file || !symbolizer::DwarfIndex::has_debug_info(*file)) return 0;
  symbolizer::DwarfIndex::Settings settings;
  settings.max_bytes = size_t{64} << 20;
  auto index = symbolizer::DwarfIndex::open(*file, settings);
  if (!index) return 0;
  std::vector<symbolizer::Frame> frames;
  for (const elf::LoadSegment& s : file->load_segments()) {
    if (!s.executable || s.mem_size == 0) continue;
    constexpr uint64_t kPoints = 128;
    for (uint64_t i = 0; i <= kPoints; ++i) {
      frames.clear();
      (void)(*index)->lookup(s.vaddr + s.mem_size / kPoints * i, frames);
    }
  }
  (void)(*index)->take_errors();
  return 0;
}
