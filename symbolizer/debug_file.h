#pragma once
// Separate debug information, found the way gdb and elfutils look for it (then, when
// configured, fetched by build-id from debuginfod servers):
//   <debugdir>/.build-id/xx/rest.debug      (checked: same build-id)
//   <dir of binary>/<debuglink>, <dir>/.debug/<debuglink>, <debugdir>/<dir>/<debuglink>
//                                            (checked: CRC-32 of the file as .gnu_debuglink says)

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "elf/elf_file.h"

namespace ember::symbolizer {

class DebuginfodClient;

struct DebugFileSearch {
  std::vector<std::string> debug_directories;
  // Prefixes under which the paths are tried, in order: "/proc/PID/root" reaches a container's
  // files, "" the host's.
  std::vector<std::string> roots = {""};
  // Asked by build-id when nothing local matched; null: off.
  DebuginfodClient* debuginfod = nullptr;
};

struct DebugFileCounters {
  uint64_t rejected = 0;  // candidates with the wrong build-id or CRC
  bool from_debuginfod = false;
};

// The separate debug file of `binary`, or nullopt. `binary_path` is where the binary lives (in the
// target's file system) for the .gnu_debuglink directories.
std::optional<elf::ElfFile> find_debug_file(const elf::ElfFile& binary, const std::string& binary_path,
                                            const DebugFileSearch& search,
                                            DebugFileCounters& counters);

// zlib's CRC-32 of a byte range (what .gnu_debuglink records).
uint32_t debuglink_crc(std::span<const std::byte> bytes);

}  // namespace ember::symbolizer
