#pragma once
// Which samples a query keeps (pid, process-name regex, labels) and a merge that copies only
// those samples, with only the mappings, functions and locations they use.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/regex.h"
#include "daemon/query_control.h"
#include "profile/builder.h"
#include "profile/profile.h"

namespace ember::daemon {

struct SampleFilter {
  std::vector<int32_t> pids;            // any of them
  std::optional<common::Regex> comm;    // searched in the comm label (RE2)
  std::string comm_pattern;             // as given, for titles
  std::vector<std::pair<std::string, std::string>> labels;  // all of them: key = value
  bool empty() const { return pids.empty() && !comm && labels.empty(); }
  // "pid=12 comm=~nginx env=prod", for titles and logs.
  std::string describe() const;
};

// Adds the samples of `from` that `filter` keeps to `into`. kInvalidArgument when the sample
// types differ; kResourceExhausted once `into` holds more than max_samples distinct samples;
// the error of control.check() (asked every few thousand samples) when the query must stop.
[[nodiscard]] Result<void> merge_filtered(profile::ProfileBuilder& into, const profile::Profile& from,
                                          const SampleFilter& filter, size_t max_samples,
                                          const QueryControl& control = QueryControl::none());

// Adds the samples of `from` for which keep() is true to `into`, with only the mappings,
// functions and locations they use; errors as merge_filtered.
[[nodiscard]] Result<void> merge_selected(profile::ProfileBuilder& into, const profile::Profile& from,
                                          const std::function<bool(const profile::Sample&)>& keep,
                                          size_t max_samples, const QueryControl& control = QueryControl::none());

// Sets ember's sample types (samples/count, cpu/nanoseconds) on an empty builder, so that an
// answer without samples is still a valid pprof profile.
void set_default_sample_types(profile::ProfileBuilder& builder);

// Approximate heap bytes of a decoded profile (for the cache bound).
size_t estimate_bytes(const profile::Profile& profile);

}  // namespace ember::daemon
