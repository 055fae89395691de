#pragma once
// speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json): one
// "sampled" profile per thread. From a recording that kept its time order (Profile::timeline)
// each thread's samples are in the order they were taken, so speedscope's "Time Order" view is
// a timeline; from aggregated input (folded text, Go's pprof) each distinct stack is one sample
// weighted by its value. Frames carry their function name, source file and line.

#include <cstddef>
#include <optional>
#include <string>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::flamegraph {

struct SpeedscopeOptions {
  std::optional<size_t> value_index;  // aggregated input: the value shown; default: pprof's default
  std::string name = "ember";         // the file's "name", shown in speedscope's title
  size_t max_bytes = size_t{256} << 20;
};

// Errors: an unknown value index, or output larger than max_bytes (kInvalidArgument).
[[nodiscard]] Result<std::string> render_speedscope(const profile::Profile& profile,
                                                    const SpeedscopeOptions& options = {});

}  // namespace ember::flamegraph
