#include "daemon/units.h"

#include <fmt/format.h>

#include "common/checked.h"

#include <array>
#include <charconv>
#include <ctime>
#include <optional>

namespace ember::daemon {

namespace {

// Large enough for any retention, small enough that no sum of parts overflows.
constexpr int64_t kMaxDurationMs = int64_t{100} * 366 * 24 * 3600 * 1000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads an unsigned decimal at the front of `s`; false when there is none or it is too large.
bool take_number(std::string_view& s, uint64_t& out) {
  size_t n = 0;
  while (n < s.size() && is_digit(s[n])) ++n;
  if (n == 0 || n > 15) return false;
  std::from_chars(s.data(), s.data() + n, out);
  s.remove_prefix(n);
  return true;
}

struct Unit {
  std::string_view name;
  int64_t ms;
};
constexpr std::array<Unit, 5> kDurationUnits = {{
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid duration '{}': {} (write e.g. 500ms, 60s, 5m, 1h30m, 7d)",
                                  text, why));
  };
  std::string_view s = text;
  if (s.empty()) return bad("empty");
  int64_t total = 0;
  while (!s.empty()) {
    uint64_t number = 0;
    if (!take_number(s, number)) return bad("expected a whole number");
    size_t n = 0;
    while (n < s.size() && !is_digit(s[n])) ++n;
    std::string_view unit = s.substr(0, n);
    s.remove_prefix(n);
    if (unit.empty()) return bad("a unit is missing (ms, s, m, h or d)");
    int64_t scale = 0;
    for (const Unit& u : kDurationUnits) {
      if (u.name == unit) scale = u.ms;
    }
    if (scale == 0) return bad(fmt::format("unknown unit '{}'", unit));
    if (number > static_cast<uint64_t>(kMaxDurationMs / scale)) return bad("too long");
    total += static_cast<int64_t>(number) * scale;
    if (total > kMaxDurationMs) return bad("too long");
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const Unit& u : kDurationUnits) {
    if (ms >= u.ms) {
      out += fmt::format("{}{}", ms / u.ms, u.name);
      ms %= u.ms;
    }
  }
  return out;
}

Result<uint64_t> parse_bytes(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid size '{}': {} (write e.g. 4096, 512KiB, 64MiB, 1GiB)", text, why));
  };
  std::string_view s = text;
  uint64_t number = 0;
  if (!take_number(s, number)) return bad("expected a whole number");
  struct SizeUnit {
    std::string_view name;
    uint64_t scale;
  };
  static constexpr std::array<SizeUnit, 10> kUnits = {{{"", 1},
                                                       {"B", 1},
                                                       {"KiB", 1ull << 10},
                                                       {"MiB", 1ull << 20},
                                                       {"GiB", 1ull << 30},
                                                       {"TiB", 1ull << 40},
                                                       {"KB", 1'000},
                                                       {"MB", 1'000'000},
                                                       {"GB", 1'000'000'000},
                                                       {"TB", 1'000'000'000'000}}};
  for (const SizeUnit& u : kUnits) {
    if (u.name == s) {
      if (number > (uint64_t{1} << 52) / u.scale) return bad("too large");
      return number * u.scale;
    }
  }
  return bad(fmt::format("unknown unit '{}'", s));
}

std::string format_bytes(uint64_t bytes) {
  static constexpr std::array<std::string_view, 4> kNames = {"TiB", "GiB", "MiB", "KiB"};
  for (size_t i = 0; i < kNames.size(); ++i) {
    uint64_t scale = uint64_t{1} << (10 * (4 - i));
    if (bytes != 0 && bytes % scale == 0) return fmt::format("{}{}", bytes / scale, kNames[i]);
  }
  return fmt::format("{}B", bytes);
}

UnixNanos unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Reads exactly `digits` decimal digits.
bool take_fixed(std::string_view& s, size_t digits, int& out) {
  if (s.size() < digits) return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    if (!is_digit(s[i])) return false;
    out = out * 10 + (s[i] - '0');
  }
  s.remove_prefix(digits);
  return true;
}

bool take_char(std::string_view& s, std::string_view allowed) {
  if (s.empty() || allowed.find(s.front()) == std::string_view::npos) return false;
  s.remove_prefix(1);
  return true;
}

std::optional<UnixNanos> parse_rfc3339(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!take_fixed(s, 4, year) || !take_char(s, "-") || !take_fixed(s, 2, month) ||
      !take_char(s, "-") || !take_fixed(s, 2, day) || !take_char(s, "Tt ") ||
      !take_fixed(s, 2, hour) || !take_char(s, ":") || !take_fixed(s, 2, minute) ||
      !take_char(s, ":") || !take_fixed(s, 2, second)) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                                  std::chrono::day(day)};
  if (!ymd.ok() || year < 1970 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  if (second == 60) second = 59;  // a leap second: the instant before is close enough
  int64_t nanos = 0;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    size_t n = 0;
    int64_t scale = 100'000'000;
    while (n < s.size() && is_digit(s[n])) {
      nanos += (s[n] - '0') * scale;
      scale /= 10;
      ++n;
    }
    if (n == 0 || n > 9) return std::nullopt;
    s.remove_prefix(n);
  }
  int64_t offset_s = 0;
  if (take_char(s, "Zz")) {
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh, om;
    if (!take_fixed(s, 2, oh) || !take_char(s, ":") || !take_fixed(s, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;  // RFC 3339 requires the offset: a local time would be a guess
  }
  if (!s.empty()) return std::nullopt;
  int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Past the year 2262 nanoseconds no longer fit: not a time emberd can hold.
  auto ns = common::checked_mul(seconds, int64_t{1'000'000'000});
  if (!ns) return std::nullopt;
  auto total = common::checked_add(*ns, static_cast<int64_t>(nanos));
  if (!total) return std::nullopt;
  return *total;
}

}  // namespace

Result<UnixNanos> parse_time(std::string_view text, UnixNanos now) {
  auto bad = [&]() {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cannot read '{}' as a time: use RFC 3339 (2025-01-02T15:04:05Z), "
                                  "a time relative to now (-15m, -1h, now-2d) or 'now'",
                                  text.substr(0, 64)));
  };
  if (text.empty() || text.size() > 64) return bad();
  std::string_view s = text;
  if (s.starts_with("now")) {
    s.remove_prefix(3);
    if (s.empty()) return now;
  }
  if (s.front() == '-' || s.front() == '+') {
    bool past = s.front() == '-';
    auto d = parse_duration(s.substr(1));
    if (!d) return bad();
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
    return past ? now - ns : now + ns;
  }
  auto t = parse_rfc3339(s);
  if (!t) return bad();
  return *t;
}

namespace {
std::tm utc_tm(UnixNanos t) {
  std::time_t seconds = static_cast<std::time_t>(t >= 0 ? t / 1'000'000'000
                                                        : (t - 999'999'999) / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm;
}
int64_t millis_of(UnixNanos t) { return ((t % 1'000'000'000) + 1'000'000'000) % 1'000'000'000 / 1'000'000; }
}  // namespace

std::string format_time(UnixNanos t) {
  std::tm tm = utc_tm(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis_of(t));
}

std::string format_time_compact(UnixNanos t) {
  std::tm tm = utc_tm(t);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace ember::daemon
