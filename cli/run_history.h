#pragma once
// The runs `ember trend` reads: profile files given one by one or as directories, each with the
// `ember record --metadata` JSON written beside it when there is one, in the order they were
// recorded.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/io.h"
#include "common/error.h"
#include "profile/profile.h"

namespace ember::cli {

// The largest `ember record --metadata` file read back (they are a few KiB).
inline constexpr size_t kMaxMetadataBytes = size_t{1} << 20;

struct HistoryRun {
  std::string path;
  profile::Profile profile;
  std::optional<std::string> metadata_path;
  std::optional<int64_t> time_ns;  // the profile's time, else the metadata's start_time
  std::string label;               // "2026-12-04 21:03:05" (UTC), else the file's name
};

struct History {
  std::vector<HistoryRun> runs;   // oldest first
  bool ordered_by_time = false;   // false: by file name (some run had no recording time)
  std::vector<std::string> notes; // one line each: runs left out (no samples), unusable metadata
};

// Expands directories into the profile files in them (.pb.gz, .pb, .pprof, .folded, .collapsed;
// not recursive), loads every profile (an unreadable one is an error naming it), leaves out runs
// without samples (noted), finds metadata and orders the runs: by recording time when every run
// has one, else by file name with numbers compared as numbers (run-9 before run-10).
[[nodiscard]] Result<History> load_history(const std::vector<std::string>& inputs, const Limits& limits);

// "run-9" < "run-10": digit runs compare by value.
bool natural_less(const std::string& a, const std::string& b);

// Seconds since the epoch from "2026-12-04T21:03:05Z" (what --metadata writes), or nullopt.
std::optional<int64_t> parse_utc_time(const std::string& text);

}  // namespace ember::cli
