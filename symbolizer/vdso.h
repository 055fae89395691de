#pragma once
// Our own vdso, read from memory: every process on this kernel maps the same image, so it can
// name the vdso frames of the targets (the [vdso] mapping has no file to open).

#include "common/error.h"
#include "elf/elf_file.h"

namespace ember::symbolizer {

// A copy of the vdso image this process was given (AT_SYSINFO_EHDR), as an ELF file named "[vdso]".
[[nodiscard]] Result<elf::ElfFile> read_own_vdso();

}  // namespace ember::symbolizer
