#pragma once
// Raw samples of one process, captured for a while and kept as bytes, to be unwound later as
// often as wanted: the unwinding benchmark times each unwind on them, and the two-way test
// unwinds every one with both engines. Not part of recording (the Recorder reads its rings live).

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "collector/record_decoder.h"
#include "collector/unwinder.h"  // PerfSampleNeeds
#include "common/error.h"

namespace ember::collector {

struct CapturedSamples {
  std::vector<std::vector<std::byte>> records;  // PERF_RECORD_SAMPLE records, whole
  SampleFormat format;
  std::string event;
};

// Samples `pid` (its threads, user and kernel) at `frequency` Hz for `seconds` with what an
// unwinder needs attached. An error when the event or its ring cannot be opened.
[[nodiscard]] Result<CapturedSamples> capture_samples(pid_t pid, uint32_t frequency, PerfSampleNeeds needs,
                                                      double seconds);

}  // namespace ember::collector
