#include "analysis/function_values.h"

#include <cstdlib>

#include "common/checked.h"

namespace ember::analysis {

FunctionValues function_values(const profile::Profile& profile, size_t value_index) {
  FunctionValues out;
  profile::FoldOptions options;
  options.value_index = value_index;
  options.process_root = false;
  options.python_lines = false;  // a Python function once, whatever line it was running
  out.stacks = profile::fold(profile, options);
  out.values.assign(out.stacks.names.size(), FunctionValue{});
  // seen[id] == stack number + 1 when the function was already counted in this stack, so that
  // a recursive function adds its stack's value to total once.
  std::vector<size_t> seen(out.stacks.names.size(), 0);
  for (size_t s = 0; s < out.stacks.stacks.size(); ++s) {
    const auto& stack = out.stacks.stacks[s];
    // Loaded profiles have no negative values and totals that fit (checked when read); the
    // sums saturate anyway rather than wrap, so a share can never come out negative.
    int64_t magnitude = stack.value == INT64_MIN ? INT64_MAX : std::llabs(stack.value);
    out.total = common::saturating_add(out.total, magnitude);
    if (stack.frames.empty()) continue;
    auto& self = out.values[stack.frames.back().value].self;
    self = common::saturating_add(self, stack.value);
    for (profile::StringId id : stack.frames) {
      if (seen[id.value] == s + 1) continue;
      seen[id.value] = s + 1;
      auto& total = out.values[id.value].total;
      total = common::saturating_add(total, stack.value);
    }
  }
  return out;
}

}  // namespace ember::analysis
