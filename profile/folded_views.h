#pragma once
// Other ways to look at the same named stacks, as flamegraph.pl and pprof offer them:
// reversed (merged from the leaf: who calls the hot function) and focused on one function
// (a sandwich: its callers and its callees).

#include "common/regex.h"
#include "profile/folded.h"

namespace ember::profile {

// Every stack leaf first: the roots of the graph are the functions that ran, above each the
// chain of its callers. Equal stacks are merged.
FoldedStacks reverse_stacks(const FoldedStacks& stacks);

// The stacks through a frame matching `function` (the outermost match in each stack), as two
// towers side by side: one rooted at the matched function with its callees above it, and one
// rooted at "callers of NAME" with the matched function's callers above it, nearest first.
// Stacks without a match are left out; none matching gives an empty result.
FoldedStacks focus_stacks(const FoldedStacks& stacks, const common::Regex& function);

// The name of the callers tower's root: "callers of NAME".
std::string callers_root(std::string_view name);

}  // namespace ember::profile
