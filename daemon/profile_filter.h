#pragma once
// Which samples a query keeps (pid, process-name regex, labels) and a merge that copies only
// those samples, with only the mappings, functions and locations they use.

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "profile/builder.h"
#include "profile/profile.h"

namespace ember::daemon {

struct SampleFilter {
  std::vector<int32_t> pids;            // any of them
  std::optional<std::regex> comm;       // searched in the comm label
  std::string comm_pattern;             // as given, for titles
  std::vector<std::pair<std::string, std::string>> labels;  // all of them: key = value
  bool empty() const { return pids.empty() && !comm && labels.empty(); }
  // "pid=12 comm=~nginx env=prod", for titles and logs.
  std::string describe() const;
};

// Adds the samples of `from` that `filter` keeps to `into`. kInvalidArgument when the sample
// types differ; kResourceExhausted once `into` holds more than max_samples distinct samples.
[[nodiscard]] Result<void> merge_filtered(profile::ProfileBuilder& into, const profile::Profile& from,
                            const SampleFilter& filter, size_t max_samples);

// Sets ember's sample types (samples/count, cpu/nanoseconds) on an empty builder, so that an
// answer without samples is still a valid pprof profile.
void set_default_sample_types(profile::ProfileBuilder& builder);

// Approximate heap bytes of a decoded profile (for the cache bound).
size_t estimate_bytes(const profile::Profile& profile);

}  // namespace ember::daemon
