#include "analysis/function_values.h"

#include <cstdlib>

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
    out.total += std::llabs(stack.value);
    if (stack.frames.empty()) continue;
    out.values[stack.frames.back().value].self += stack.value;
    for (profile::StringId id : stack.frames) {
      if (seen[id.value] == s + 1) continue;
      seen[id.value] = s + 1;
      out.values[id.value].total += stack.value;
    }
  }
  return out;
}

}  // namespace ember::analysis
