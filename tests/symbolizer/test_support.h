#pragma once
// Helpers for the symbolizer tests: where the fixtures are, their symbols as binutils' nm sees
// them (an oracle independent of ember's own ELF reading), tagged source lines, temp dirs.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>
#include "symbolizer/symbolizer.h"
#include "tests/support/temp_dir.h"

namespace ember::symbolizer::testing {

std::string fixture(const std::string& name);         // a built fixture (binary dir)
std::string fixture_source(const std::string& name);  // a fixture source or data file

struct NmSymbol {
  uint64_t address = 0;
  uint64_t size = 0;
  char type = '?';
};
// `nm -S --defined-only` of a file, by (mangled) name.
std::map<std::string, NmSymbol> nm_symbols(const std::string& path, bool dynamic = false);

// The 1-based line of `source` whose text contains "LINE:<tag>".
int64_t tagged_line(const std::string& source, const std::string& tag);

// symbolize_file of `addresses` in `path`; an error fails the test and gives empty symbols.
std::vector<Symbol> symbolize(const std::string& path, const std::vector<uint64_t>& addresses,
                              const Options& options = {});

// Runs a shell command and returns its standard output.
std::string run(const std::string& command);

// The shared temporary directory (tests/support/temp_dir.h).
using TempDir = ember::testing::TempDir;

void copy_file(const std::string& from, const std::string& to);
void write_text(const std::string& path, const std::string& text);

}  // namespace ember::symbolizer::testing
