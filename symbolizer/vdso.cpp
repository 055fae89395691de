#include "symbolizer/vdso.h"

#include <sys/auxv.h>

#include <charconv>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/files.h"

namespace ember::symbolizer {

Result<elf::ElfFile> read_own_vdso() {
  uint64_t base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return make_error(ErrorCode::kNotFound, "[vdso]: this process has no vdso");
  // The size of the image is that of its mapping; reading past it would fault.
  auto maps = common::read_file("/proc/self/maps", 64u << 20);
  if (!maps) return std::unexpected(maps.error());
  std::string_view text = *maps;
  uint64_t size = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.ends_with("[vdso]")) continue;
    uint64_t start = 0, end = 0;
    auto [p1, e1] = std::from_chars(line.data(), line.data() + line.size(), start, 16);
    if (e1 != std::errc() || p1 == line.data() + line.size() || *p1 != '-') continue;
    auto [p2, e2] = std::from_chars(p1 + 1, line.data() + line.size(), end, 16);
    if (e2 != std::errc() || start != base || end <= start) continue;
    size = end - start;
    break;
  }
  if (size == 0 || size > (64u << 20)) {
    return make_error(ErrorCode::kNotFound, "[vdso]: not found in /proc/self/maps");
  }
  std::vector<std::byte> image(size);
  std::memcpy(image.data(), reinterpret_cast<const void*>(base), size);
  return elf::ElfFile::from_image(std::move(image), "[vdso]");
}

}  // namespace ember::symbolizer
