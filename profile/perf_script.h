#pragma once
// `perf script` text as input: what stackcollapse-perf.pl reads. A sample is a header line
//   COMM PID[/TID] [CPU] TIME: [PERIOD] EVENT:
// followed by its call chain, leaf first, one frame a line (indented):
//   ADDRESS SYMBOL[+0xOFF] (DSO)
// or, recorded without -g, the one frame at the end of the header line. Kernel frames are
// "([kernel.kallsyms])"; `perf script --inline` adds inlined functions as "ADDRESS NAME (inlined)"
// before the frame they were inlined into; -F +srcline adds a "  FILE:LINE" line after a frame.
// Only text is parsed here: nothing of perf itself is used.

#include <string_view>

#include "common/error.h"
#include "profile/limits.h"
#include "profile/profile.h"

namespace ember::profile {

// Whether `text` (or its first few KiB) starts like perf script output: a sample header with
// a TIME: and an EVENT: field. Folded stacks and pprof never do.
bool looks_like_perf_script(std::string_view text);

// Parses perf script text into a Profile: sample types samples/count (and cpu/nanoseconds when
// the event is cpu-clock or task-clock, whose period is in nanoseconds), labels pid, tid, comm,
// thread_comm, one mapping per DSO (kernel and JIT ones recognised by name), and the samples'
// time order (Profile::timeline, times as perf printed them). Errors name `source` and the line:
// "perf.txt:12: a stack frame before any sample header". More frames in all than
// limits.max_frames is an error; stack depth and name length are cut by apply_limits afterwards.
[[nodiscard]] Result<Profile> parse_perf_script(std::string_view text, std::string_view source,
                                                const InputLimits& limits = {});

}  // namespace ember::profile
