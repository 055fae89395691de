#pragma once
// The query parameters of one API request: the set an endpoint accepts (anything else is a
// typo and refused), single values, and the shared ones (from/to, pid, comm, label), each
// checked with an error that names the parameter and says why.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "daemon/profile_filter.h"
#include "daemon/query_engine.h"
#include "daemon/units.h"

namespace ember::daemon {

class Params {
 public:
  explicit Params(std::vector<std::pair<std::string, std::string>> values) : values_(std::move(values)) {}

  // An error naming the first parameter that is not in `known`.
  [[nodiscard]] Result<void> allow(std::initializer_list<std::string_view> known) const;
  // The single value of `key`; an error when it is given twice.
  [[nodiscard]] Result<std::optional<std::string>> one(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string> all(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

[[nodiscard]] Result<int64_t> parse_int(std::string_view key, std::string_view text, int64_t min, int64_t max);
// "1", "true", "yes" or nothing; "0", "false", "no".
[[nodiscard]] Result<bool> parse_bool(std::string_view key, std::string_view text);
// The value of `key` as a whole number from min to max, or nullopt when it is not given.
[[nodiscard]] Result<std::optional<int64_t>> optional_int(const Params& p, std::string_view key, int64_t min,
                                                          int64_t max);
// The value of `key` as true/false, or nullopt when it is not given.
[[nodiscard]] Result<std::optional<bool>> optional_bool(const Params& p, std::string_view key);

// from_key..to_key (RFC 3339, "-15m", "now"; from defaults to `default_from`, to to now), no
// longer than `max_range` (http.max_range).
[[nodiscard]] Result<TimeRange> parse_range(const Params& p, std::string_view from_key, std::string_view to_key,
                                            std::string_view default_from, UnixNanos now, Duration max_range);
// base_from..base_to, the range to compare `current` with: by default the same length of time just
// before it; with only one end given, the same length from or to that end.
[[nodiscard]] Result<TimeRange> parse_base_range(const Params& p, const TimeRange& current, UnixNanos now,
                                                 Duration max_range);
// What diff and compare both take: from..to (default the last hour), base_from..base_to (see
// parse_base_range) and the filters.
struct TwoRanges {
  TimeRange current;
  TimeRange base;
  SampleFilter filter;
};
[[nodiscard]] Result<TwoRanges> parse_two_ranges(const Params& p, UnixNanos now, Duration max_range);
// pid=1,2 (repeatable), comm=REGEX (RE2), label=key:value (repeatable, all must match).
[[nodiscard]] Result<SampleFilter> parse_filter(const Params& p);

// `s` reduced to characters safe in a file name (the host in Content-Disposition).
std::string safe_file_part(std::string_view s);

}  // namespace ember::daemon
