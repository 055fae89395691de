#pragma once
// Reading back what `ember record` wrote: shares of leaf functions and stack shapes.

#include <string>
#include <string_view>
#include <vector>

namespace ember::testing {

struct FoldedSummary {
  int64_t total = 0;
  // Samples whose user leaf (kernel frames after it ignored) is `leaf`.
  int64_t leaf_samples(std::string_view leaf) const;
  // Samples whose user frames hold exactly `chain` as a contiguous run (root-most first);
  // frames of inlined helpers may follow it.
  int64_t chain_samples(const std::vector<std::string>& chain) const;
  // Samples with `frame` anywhere in the stack.
  int64_t containing(std::string_view frame) const;
  std::vector<std::pair<std::vector<std::string>, int64_t>> stacks;
};

// Parses folded text; kernel frames ("_[k]") are kept in `stacks` but ignored for leaves/chains.
FoldedSummary summarize_folded(const std::string& text);

std::string read_text(const std::string& path);

}  // namespace ember::testing
