#pragma once
// Names the functions of a fixture program from its .symtab, without the symbolizer: the
// integration tests map the collector's (module, file offset) frames to names with this.

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "elf/elf_file.h"

namespace ember::collector::test {

class FixtureSymbols {
 public:
  static Result<FixtureSymbols> load(const std::string& path);

  // "truth::Worker::compute_alpha" (demangled, without parameters) for a file offset inside a
  // function, "" when none contains it.
  std::string function_at(uint64_t file_offset) const;

 private:
  struct Function {
    uint64_t start;
    uint64_t end;
    std::string name;
  };
  std::vector<Function> functions_;  // sorted by start
  std::vector<elf::LoadSegment> segments_;
};

}  // namespace ember::collector::test
