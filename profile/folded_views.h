#pragma once
// Other ways to look at the same named stacks, as flamegraph.pl, pprof and speedscope offer them:
// reversed (merged from the leaf: who calls the hot function) and focused on one function
// (a sandwich: its callers and its callees).

#include <vector>

#include "common/regex.h"
#include "profile/folded.h"

namespace ember::profile {

// Every stack leaf first: the roots of the graph are the functions that ran, above each the
// chain of its callers. Equal stacks are merged.
FoldedStacks reverse_stacks(const FoldedStacks& stacks);

// The stacks through a frame matching a function (the outermost match in each stack), seen from
// that frame both ways. Both kinds start with the matched frame and use callees.names.
struct Sandwich {
  FoldedStacks callees;                      // the match, then what it called, to the leaf
  std::vector<FoldedStacks::Stack> callers;  // the match, then its callers, nearest first
};
// Stacks without a match are left out; none matching gives empty callees and callers.
Sandwich sandwich_stacks(const FoldedStacks& stacks, const common::Regex& function);

// The sandwich as plain folded stacks (for folded output), two towers side by side: the callees
// rooted at the matched function, and the callers rooted at "callers of NAME", nearest first.
FoldedStacks focus_stacks(const FoldedStacks& stacks, const common::Regex& function);

// The name of the callers tower's root: "callers of NAME".
std::string callers_root(std::string_view name);

}  // namespace ember::profile
