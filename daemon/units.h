#pragma once
// The value syntaxes of emberd's configuration and query strings: durations ("60s", "1h30m"),
// byte sizes ("64MiB") and points in time (RFC 3339, "-15m", "now").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ember::daemon {

using Duration = std::chrono::milliseconds;

// "500ms", "60s", "5m", "1h30m", "7d": one or more <integer><unit> parts, units ms s m h d.
// A bare integer is refused: whether it meant seconds or minutes cannot be known.
[[nodiscard]] Result<Duration> parse_duration(std::string_view text);
// The shortest exact spelling: 90s -> "1m30s", 0 -> "0s".
std::string format_duration(Duration d);

// "1GiB", "64MiB", "512KiB", "10MB", "4096", "4096B". Binary (KiB) and decimal (KB) units.
[[nodiscard]] Result<uint64_t> parse_bytes(std::string_view text);
// The largest binary unit that divides it exactly: 1073741824 -> "1GiB".
std::string format_bytes(uint64_t bytes);

// Wall-clock instants as Unix nanoseconds.
using UnixNanos = int64_t;
UnixNanos unix_now_ns();

// A point in time as a query gives it: RFC 3339 ("2025-01-02T15:04:05Z", fractions and offsets
// allowed), "now", or relative to `now`: "-15m", "-1h30m", "now-2h".
[[nodiscard]] Result<UnixNanos> parse_time(std::string_view text, UnixNanos now);
// RFC 3339 in UTC with milliseconds: "2025-01-02T15:04:05.123Z".
std::string format_time(UnixNanos t);
// Compact UTC, for file names: "20250102T150405Z".
std::string format_time_compact(UnixNanos t);

}  // namespace ember::daemon
