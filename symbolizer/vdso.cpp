#include "symbolizer/vdso.h"

#include <sys/auxv.h>

#include <cstring>
#include <vector>

#include "common/files.h"
#include "common/proc_maps.h"

namespace ember::symbolizer {

Result<elf::ElfFile> read_own_vdso() {
  uint64_t base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return make_error(ErrorCode::kNotFound, "[vdso]: this process has no vdso");
  // The size of the image is that of its mapping; reading past it would fault.
  auto maps = common::read_file("/proc/self/maps", 64u << 20);
  if (!maps) return std::unexpected(maps.error());
  uint64_t size = 0;
  for (const common::MapsEntry& m : common::parse_maps(*maps)) {
    if (m.path == "[vdso]" && m.start == base && m.end > m.start) {
      size = m.end - m.start;
      break;
    }
  }
  if (size == 0 || size > (64u << 20)) {
    return make_error(ErrorCode::kNotFound, "[vdso]: not found in /proc/self/maps");
  }
  std::vector<std::byte> image(size);
  std::memcpy(image.data(), reinterpret_cast<const void*>(base), size);
  return elf::ElfFile::from_image(std::move(image), "[vdso]");
}

}  // namespace ember::symbolizer
