#pragma once
// The one parser of /proc/PID/maps, shared by the collector (process table) and the Python
// reader (finding the interpreter): one line format, one set of checks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ember::common {

// One line of /proc/PID/maps.
struct MapsEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool shared = false;
  uint64_t page_offset = 0;
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t inode = 0;
  std::string path;  // " (deleted)" removed, see `deleted`
  bool deleted = false;
};

// Parses one line; nullopt when the line is not in the maps format.
std::optional<MapsEntry> parse_maps_line(std::string_view line);

// Parses a whole maps file, skipping lines that are not in the format.
std::vector<MapsEntry> parse_maps(std::string_view text);

// Reads and parses /proc/PID/maps under `proc_root`; nullopt when the process is gone.
std::optional<std::vector<MapsEntry>> read_maps(const std::string& proc_root, int32_t pid);

}  // namespace ember::common
