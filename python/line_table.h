#pragma once
// Line numbers from a code object's line table, for the byte offset of an instruction. The
// tables come from the target's memory and may be torn or garbage: every decoder stops at the
// end of the span and answers "unknown" rather than reading past it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "python/layout.h"

namespace ember::python {

// The line of the instruction at `byte_offset` (bytes from the first code unit), or nullopt
// when the table has no line for it (a no-line entry, an offset past the table, a damaged
// table). A negative offset (a frame that has not started) is the first line, as CPython says.
std::optional<int32_t> line_for_offset(LineTableFormat format, std::span<const std::byte> table,
                                       int32_t first_line, int64_t byte_offset);

}  // namespace ember::python
