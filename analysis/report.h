#pragma once
// `ember report`: where a profile spends its time — the top functions by self and by total, the
// hottest stacks, and how severe each function's share is.
//
// Definitions agree with `go tool pprof -top` (granularity "functions"):
//   self  ("flat") = value of the samples whose leaf frame is the function;
//   total ("cum")  = value of the samples whose stack contains the function at least once, so a
//                    recursive function is not counted twice;
//   shares are of the profile total, the sum of |value| over all samples (as pprof's total).
// Functions are grouped by name, and inlined functions are functions of their own, as pprof does.
// Names come from profile::fold (without the process-name root), so they are exactly the frame
// names of ember's flamegraphs: kernel functions end in "_[k]", JIT code in "_[j]", and code
// without symbols is "module+0xOFFSET". Python functions are "handle (app.py)": the flamegraph's
// name without the line, so each function is one row whatever line it was running.
//
// JSON (format_report_json / to_json), stable field names; shares are fractions (0.4 = 40%),
// values are in `unit`:
//   {
//     "version": 1,
//     "sample_type": "cpu", "unit": "nanoseconds",
//     "total": 1000000000,             // sum of |value|
//     "function_count": 8,             // functions with a nonzero self or total
//     "path_count": 6,                 // distinct stacks
//     "severity_thresholds": {"critical": 0.30, "high": 0.15, "medium": 0.05},
//     "top_self":  [{"name": "b", "self": 400000000, "self_share": 0.4,
//                    "total": 400000000, "total_share": 0.4, "severity": "critical"}, ...],
//     "top_total": [same objects, ordered by total],
//     "hot_paths": [{"frames": ["main", "a", "b", "b"], "value": 400000000, "share": 0.4}, ...],
//     "findings": [{"id": "allocator", "title": "Memory allocation", "severity": "high",
//                   "value": 180000000, "share": 0.18,
//                   "frames":  [{"name": "malloc", "value": 120000000, "share": 0.12}, ...],
//                   "callers": [{"name": "parse", "value": 150000000, "share": 0.15}, ...],
//                   "path": [],            // hot_function: its hottest stack, root first
//                   "advice": "allocate less in the hot paths ..."}, ...]
//   }

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/findings.h"
#include "analysis/severity.h"
#include "common/error.h"
#include "profile/profile.h"

namespace ember::analysis {


struct FunctionStats {
  std::string name;
  int64_t self = 0;
  int64_t total = 0;
  double self_share = 0;
  double total_share = 0;
  Severity severity = Severity::kLow;  // of self_share
};

struct HotPath {
  std::vector<std::string> frames;  // root first
  int64_t value = 0;
  double share = 0;
};

struct ReportOptions {
  std::optional<std::string> sample_type;  // default: the profile's pprof default
  size_t top = 20;                         // rows per function table; 0 for all
  size_t hot_paths = 10;                   // 0 for all
};

struct Report {
  std::string sample_type;
  std::string unit;
  int64_t total = 0;
  size_t function_count = 0;
  size_t path_count = 0;
  // Ordered by self (then total, then name) and by total (then self, then name).
  std::vector<FunctionStats> top_self;
  std::vector<FunctionStats> top_total;
  // Ordered by value, then by frames.
  std::vector<HotPath> hot_paths;
  // What kinds of work the time goes to (findings.h), largest first.
  std::vector<Finding> findings;
};

// Error when options.sample_type names no sample type of the profile.
[[nodiscard]] Result<Report> make_report(const profile::Profile& profile, const ReportOptions& options = {});

// Terminal tables: a header line with sample type and total, then "Findings", "By self",
// "By total" and "Hottest paths", columns aligned, values in human units (format_value).
std::string format_report_text(const Report& report);

nlohmann::json to_json(const Report& report);
std::string format_report_json(const Report& report, int indent = 2);

}  // namespace ember::analysis
