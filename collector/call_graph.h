#pragma once
// How user-space stacks are unwound.

#include <cstdint>

namespace ember::collector {

enum class CallGraphMode {
  kFramePointer,  // the kernel walks frame pointers (PERF_SAMPLE_CALLCHAIN)
  kDwarf,         // the kernel copies user registers and stack; DWARF CFI unwinds them in ember
};

}  // namespace ember::collector
