#include "analysis/units.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace ember::analysis {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Scale for time units relative to nanoseconds; 0 when `unit` is not a time unit.
double nanoseconds_per(std::string_view unit) {
  if (unit == "nanoseconds" || unit == "ns") return 1;
  if (unit == "microseconds" || unit == "us") return 1e3;
  if (unit == "milliseconds" || unit == "ms") return 1e6;
  if (unit == "seconds" || unit == "s") return 1e9;
  return 0;
}

}  // namespace

Result<double> parse_percentage(std::string_view text) {
  std::string_view s = trim(text);
  auto fail = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a percentage: {}", text, why));
  };
  bool percent = s.ends_with('%');
  if (percent) s = trim(s.substr(0, s.size() - 1));
  if (s.empty()) return fail("no number (expected e.g. 10% or 0.1)");
  double value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return fail("expected a number such as 10% or 0.1");
  }
  if (!std::isfinite(value)) return fail("not a finite number");
  if (value < 0) return fail("must not be negative");
  if (percent) return value / 100;
  if (value >= 1) {
    return fail(fmt::format("ambiguous without '%': write {}% or {}", s, value / 100));
  }
  return value;
}

std::string format_value(double value, std::string_view unit) {
  if (unit == "count" || unit.empty()) return fmt::format("{:.0f}", value);
  double abs = std::fabs(value);
  if (double scale = nanoseconds_per(unit); scale != 0) {
    double ns = value * scale;
    double abs_ns = abs * scale;
    if (abs_ns < 1e3) return fmt::format("{:.0f}ns", ns);
    if (abs_ns < 1e6) return fmt::format("{:.2f}us", ns / 1e3);
    if (abs_ns < 1e9) return fmt::format("{:.2f}ms", ns / 1e6);
    return fmt::format("{:.2f}s", ns / 1e9);
  }
  if (unit == "bytes") {
    if (abs < 1024) return fmt::format("{:.0f}B", value);
    if (abs < 1024.0 * 1024) return fmt::format("{:.2f}kB", value / 1024);
    if (abs < 1024.0 * 1024 * 1024) return fmt::format("{:.2f}MB", value / (1024.0 * 1024));
    return fmt::format("{:.2f}GB", value / (1024.0 * 1024 * 1024));
  }
  return fmt::format("{:.0f} {}", value, unit);
}

std::string format_share(double share) { return fmt::format("{:.2f}%", share * 100); }

std::string format_percentage(double fraction) { return fmt::format("{:g}%", fraction * 100); }

std::string format_change(double change) {
  if (std::isinf(change)) return change > 0 ? "new" : "gone";
  if (std::isnan(change)) return "n/a";
  return fmt::format("{:+.1f}%", change * 100);
}

std::string format_p_value(double p) {
  if (std::isnan(p)) return "n/a";
  if (p < 1e-4) return "<0.0001";
  return fmt::format("{:.2g}", p);
}

}  // namespace ember::analysis
