#pragma once
// How user-space stacks are unwound.

#include <cstdint>

namespace ember::collector {

enum class CallGraphMode {
  kFramePointer,  // the kernel walks frame pointers (PERF_SAMPLE_CALLCHAIN)
  kDwarf,         // the kernel copies user registers and stack; DWARF CFI unwinds them in ember
};

// How DWARF CFI is applied (kDwarf). kCompiled: each binary's CFI compiled once into sorted rows
// (cfi_rows.h), frames outside their form by libunwind; kLibunwind: every frame by libunwind
// (the benchmark's and the two-way test's reference).
enum class DwarfEngine : uint8_t { kCompiled, kLibunwind };

}  // namespace ember::collector
