#include "daemon/api_params.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "daemon/target_filter.h"

namespace ember::daemon {

namespace {
constexpr size_t kMaxLabels = 16;
}  // namespace

Result<void> Params::allow(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : values_) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (std::string_view n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("unknown parameter '{}' (this endpoint takes {})", k.substr(0, 64), list));
    }
  }
  return {};
}

Result<std::optional<std::string>> Params::one(std::string_view key) const {
  std::optional<std::string> found;
  for (const auto& [k, v] : values_) {
    if (k != key) continue;
    if (found) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: given more than once", key));
    found = v;
  }
  return found;
}

std::vector<std::string> Params::all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) {
    if (k == key) out.push_back(v);
  }
  return out;
}

Result<std::optional<int64_t>> optional_int(const Params& p, std::string_view key, int64_t min, int64_t max) {
  auto text = p.one(key);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::optional<int64_t>();
  auto v = parse_int(key, **text, min, max);
  if (!v) return std::unexpected(v.error());
  return std::optional<int64_t>(*v);
}

Result<std::optional<bool>> optional_bool(const Params& p, std::string_view key) {
  auto text = p.one(key);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::optional<bool>();
  auto v = parse_bool(key, **text);
  if (!v) return std::unexpected(v.error());
  return std::optional<bool>(*v);
}

Result<int64_t> parse_int(std::string_view key, std::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: '{}' is not a whole number from {} to {}", key, text.substr(0, 32), min, max));
  }
  return v;
}

Result<bool> parse_bool(std::string_view key, std::string_view text) {
  if (text == "1" || text == "true" || text == "yes" || text.empty()) return true;
  if (text == "0" || text == "false" || text == "no") return false;
  return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: '{}' is not true or false", key, text.substr(0, 32)));
}

Result<TimeRange> parse_range(const Params& p, std::string_view from_key, std::string_view to_key,
                              std::string_view default_from, UnixNanos now, Duration max_range) {
  auto from_text = p.one(from_key);
  if (!from_text) return std::unexpected(from_text.error());
  auto to_text = p.one(to_key);
  if (!to_text) return std::unexpected(to_text.error());
  auto from = parse_time(from_text->value_or(std::string(default_from)), now);
  if (!from) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", from_key, from.error().message()));
  auto to = parse_time(to_text->value_or("now"), now);
  if (!to) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", to_key, to.error().message()));
  if (*from >= *to) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} ({}) must be before {} ({})", from_key, format_time(*from), to_key, format_time(*to)));
  }
  const int64_t max_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(max_range).count();
  if (*to - *from > max_ns) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the range {}..{} is longer than http.max_range ({})", from_key, to_key,
                                  format_duration(max_range)));
  }
  return TimeRange{*from, *to};
}

Result<TimeRange> parse_base_range(const Params& p, const TimeRange& current, UnixNanos now, Duration max_range) {
  auto bf = p.one("base_from");
  if (!bf) return std::unexpected(bf.error());
  auto bt = p.one("base_to");
  if (!bt) return std::unexpected(bt.error());
  const int64_t length = current.to - current.from;
  UnixNanos base_to = current.from;
  UnixNanos base_from = current.from - length;
  if (*bt) {
    auto t = parse_time(**bt, now);
    if (!t) return make_error(ErrorCode::kInvalidArgument, "base_to: " + t.error().message());
    base_to = *t;
    if (!*bf) base_from = base_to - length;
  }
  if (*bf) {
    auto f = parse_time(**bf, now);
    if (!f) return make_error(ErrorCode::kInvalidArgument, "base_from: " + f.error().message());
    base_from = *f;
    if (!*bt) base_to = base_from + length;
  }
  if (base_from >= base_to) return make_error(ErrorCode::kInvalidArgument, "base_from must be before base_to");
  if (base_to - base_from > std::chrono::duration_cast<std::chrono::nanoseconds>(max_range).count()) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("the range base_from..base_to is longer than "
                                                               "http.max_range ({})",
                                                               format_duration(max_range)));
  }
  return TimeRange{base_from, base_to};
}

Result<TwoRanges> parse_two_ranges(const Params& p, UnixNanos now, Duration max_range) {
  auto current = parse_range(p, "from", "to", "-1h", now, max_range);
  if (!current) return std::unexpected(current.error());
  auto base = parse_base_range(p, *current, now, max_range);
  if (!base) return std::unexpected(base.error());
  auto filter = parse_filter(p);
  if (!filter) return std::unexpected(filter.error());
  return TwoRanges{*current, *base, std::move(*filter)};
}

Result<SampleFilter> parse_filter(const Params& p) {
  SampleFilter f;
  for (const std::string& list : p.all("pid")) {
    std::string_view rest = list;
    while (true) {
      size_t comma = rest.find(',');
      // 0 is the idle task: /api/v1/targets lists it, so it can be asked for as any process.
      auto pid = parse_int("pid", rest.substr(0, comma), 0, INT32_MAX);
      if (!pid) return std::unexpected(pid.error());
      f.pids.push_back(static_cast<int32_t>(*pid));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (f.pids.size() > 256) return make_error(ErrorCode::kInvalidArgument, "pid: more than 256 processes");
  }
  auto comm = p.one("comm");
  if (!comm) return std::unexpected(comm.error());
  if (*comm && !(*comm)->empty()) {
    auto re = compile_regex(**comm, true);
    if (!re) return make_error(ErrorCode::kInvalidArgument, "comm: " + re.error().message());
    f.comm = std::move(*re);
    f.comm_pattern = **comm;
  }
  auto labels = p.all("label");
  if (labels.size() > kMaxLabels) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("label: more than {} labels", kMaxLabels));
  }
  for (const std::string& l : labels) {
    size_t colon = l.find(':');
    if (colon == std::string::npos || colon == 0 || colon > 64) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("label: '{}' is not key:value (e.g. label=thread_comm:worker)", l.substr(0, 64)));
    }
    f.labels.emplace_back(l.substr(0, colon), l.substr(colon + 1));
  }
  return f;
}

std::string safe_file_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
    if (out.size() >= 64) break;
  }
  return out.empty() ? "host" : out;
}

}  // namespace ember::daemon
