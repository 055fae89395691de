#pragma once
// Self and total value per function of one profile, with pprof's definitions (internal to
// analysis/, shared by report and compare so that both count the same way).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "profile/folded.h"
#include "profile/profile.h"

namespace ember::analysis {

struct FunctionValue {
  int64_t self = 0;   // samples whose leaf frame is the function (pprof "flat")
  int64_t total = 0;  // samples whose stack holds the function at least once (pprof "cum")
};

struct FunctionValues {
  profile::FoldedStacks stacks;       // the named stacks the values were computed from
  std::vector<FunctionValue> values;  // indexed by StringId of stacks.names
  // Sum of |value| over samples: pprof's total, the denominator of every share. Equals the sum of
  // values for ordinary profiles; differs only for diff profiles with negative values.
  int64_t total = 0;
};

// Names stacks with profile::fold (no process-name root, so frames are functions, inlined
// functions included, named exactly as the flamegraph names them, except that Python functions
// are "handle (app.py)" without the line) and sums per function.
FunctionValues function_values(const profile::Profile& profile, size_t value_index);

}  // namespace ember::analysis
