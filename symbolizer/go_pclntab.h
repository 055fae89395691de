#pragma once
// Function names of Go binaries from .gopclntab, the table the Go runtime itself uses for
// tracebacks. Go programs are usually shipped stripped (`-ldflags=-s -w`: no .symtab, and no
// .dynsym without cgo), which leaves a native profiler with bare addresses; the pclntab survives
// stripping. Formats of Go 1.2 to 1.15, 1.16/1.17 and 1.18 onwards (1.20 changed only the magic).
// Function names only: no file:line (that would need the pc-value tables).

#include <vector>

#include "common/error.h"
#include "elf/elf_file.h"
#include "symbolizer/symbol_table.h"

namespace ember::symbolizer {

// The functions of `file`'s .gopclntab, sorted by address, each reaching to the next one; names
// point into the file's mapping. Empty when the file has no .gopclntab; an error naming the file
// when the table is of an unknown version or does not fit in its section.
[[nodiscard]] Result<std::vector<ElfSymbol>> read_go_functions(const elf::ElfFile& file);

}  // namespace ember::symbolizer
