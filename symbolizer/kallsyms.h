#pragma once
// Kernel symbols from /proc/kallsyms (or a copy of it): text symbols of the kernel and of its
// modules ("[nf_tables]"), sorted for binary search. Loaded once.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "symbolizer/sorted_ranges.h"

namespace ember::symbolizer {

class KernelSymbols {
 public:
  struct Found {
    std::string_view name;
    std::string_view module;  // empty for the kernel itself
  };

  // Reads and parses a kallsyms file of at most max_bytes. An error when it cannot be read, or
  // when every address is zero (kptr_restrict hides them from this process).
  [[nodiscard]] static Result<KernelSymbols> load(const std::string& path, size_t max_bytes);
  // Parses kallsyms text; `name` is for errors.
  [[nodiscard]] static Result<KernelSymbols> parse(std::string text, std::string_view name);

  std::optional<Found> find(uint64_t address) const;
  size_t size() const { return symbols_.size(); }
  uint64_t malformed_lines() const { return malformed_lines_; }
  size_t memory_bytes() const {
    return names_.capacity() + symbols_.memory_bytes() + modules_.capacity() * sizeof(std::string);
  }

 private:
  struct Entry {
    uint64_t start;
    uint64_t end;
    uint32_t name_offset;  // into names_
    uint32_t name_size;
    uint32_t module;  // into modules_; 0 is the kernel itself ("")
  };
  std::string names_;  // text symbol names only, back to back
  std::vector<std::string> modules_ = {""};
  SortedRanges<Entry> symbols_;
  uint64_t malformed_lines_ = 0;
};

}  // namespace ember::symbolizer
