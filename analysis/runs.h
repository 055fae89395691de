#pragma once
// What compare and trend both need to know about a set of recordings (internal to analysis/):
// which value of each to read, and how many samples each holds.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "analysis/function_values.h"
#include "common/error.h"
#include "profile/profile.h"

namespace ember::analysis {

// "cpu/nanoseconds"
std::string type_name(const profile::Profile& p, size_t index);

// The index of the compared sample type in every run: `sample_type` when given, else each run's
// pprof default, which must then be the same type in every run. Errors name the runs involved.
[[nodiscard]] Result<std::vector<size_t>> resolve_value_indices(
    std::span<const ProfileRun* const> runs, const std::optional<std::string>& sample_type);

// N, the sample count of a run (see compare.h): the total of its samples/count type, else
// total / period when the period is in the compared unit, else the number of distinct samples.
double sample_count(const profile::Profile& p, size_t value_index, const FunctionValues& values);

}  // namespace ember::analysis
