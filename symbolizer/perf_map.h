#pragma once
// JIT symbols from a perf map, /tmp/perf-PID.map, as `node --perf-basic-prof`, the JVM's
// perf-map-agent and others write it: one "START SIZE NAME" line per compiled function, hex
// numbers. The file is written by the target: it is untrusted and may be growing while we read.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace ember::symbolizer {

class PerfMap {
 public:
  // Reads a perf map of at most max_bytes. Refused without blocking: anything but a regular file
  // (FIFOs), a symbolic link in the last component (a target must not make us read other files
  // into its profile), and, when `owner` is given, a file owned by neither that user nor root.
  [[nodiscard]] static Result<PerfMap> load(const std::string& path, size_t max_bytes,
                              std::optional<uid_t> owner = std::nullopt);
  // Malformed lines are counted and skipped; a code range listed again later replaces the
  // earlier entry where they overlap (the JIT reused the memory).
  static PerfMap parse(std::string_view text);

  std::optional<std::string_view> find(uint64_t address) const;
  size_t size() const { return entries_.size(); }
  uint64_t malformed_lines() const { return malformed_lines_; }
  size_t memory_bytes() const { return names_.capacity() + entries_.capacity() * sizeof(Entry); }

 private:
  struct Entry {
    uint64_t start;
    uint64_t end;
    uint32_t name_offset;
    uint32_t name_size;
  };
  std::string names_;
  std::vector<Entry> entries_;  // sorted, not overlapping
  uint64_t malformed_lines_ = 0;
};

}  // namespace ember::symbolizer
