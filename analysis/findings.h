#pragma once
// Findings: what kind of work a profile's time goes to, beyond its top functions. Each rule of
// one table (findings.cpp) names a kind of cost that has a known remedy — the memory allocator,
// lock waits, system calls and kernel time, page faults, copying, a runtime's garbage
// collector — by the frames that do it; a single function above the severity thresholds is a
// finding too. A finding always carries its numbers: the share and value of the samples that
// matched, the matched frames and the callers that reached them (the user's own functions),
// each with its share. Shares are of the profile total, as every share of `ember report`.
//
// A sample counts for a rule once, whatever number of its frames match. Matched frames are named
// by the outermost match of each sample (`malloc`, not `_int_malloc`), skipping a rule's entry
// frames (a system call's `entry_SYSCALL_64`), and the caller is the frame just above it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/function_values.h"
#include "analysis/severity.h"

namespace ember::analysis {

struct FindingFrame {
  std::string name;
  int64_t value = 0;
  double share = 0;
};

struct Finding {
  std::string id;     // the rule: "allocator", "locks", "kernel", "page_faults", "copying", "gc", "hot_function"
  std::string title;  // "Memory allocation"
  Severity severity = Severity::kLow;  // of `share`, with report's thresholds
  int64_t value = 0;                   // of the samples that matched
  double share = 0;
  std::vector<FindingFrame> frames;   // the matched frames, by value (at most kFindingFrames)
  std::vector<FindingFrame> callers;  // the frames that called into them, by value
  std::vector<std::string> path;      // hot_function: its hottest stack, root first
  std::string advice;                 // what usually helps, one sentence
};

inline constexpr size_t kFindingFrames = 5;

// Findings of share at least kMediumShare, by share (then id). Profiles with negative values
// (differences) have none: a share of a difference is not a cost.
std::vector<Finding> find_findings(const FunctionValues& values);

}  // namespace ember::analysis
