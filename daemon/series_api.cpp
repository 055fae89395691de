// GET /api/v1/series: its parameters, checks and JSON (the computation: series.cpp).

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "daemon/api.h"
#include "daemon/api_params.h"
#include "daemon/target_filter.h"

namespace ember::daemon {

namespace {

constexpr int64_t kMillisecond = 1'000'000;

Duration to_duration(int64_t ns) { return Duration((ns + kMillisecond - 1) / kMillisecond); }

nlohmann::json seconds(const std::vector<int64_t>& ns) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t v : ns) out.push_back(static_cast<double>(v) / 1e9);
  return out;
}

nlohmann::json series_json(const Series& s, const SeriesQuery& q, std::string_view function_pattern) {
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < s.starts.size(); ++i) {
    steps.push_back({{"start", format_time(s.starts[i])},
                     {"samples", s.samples[i]},
                     {"cpu_seconds", static_cast<double>(s.cpu_ns[i]) / 1e9}});
  }
  nlohmann::json j = {{"from", format_time(s.range.from)},
                      {"to", format_time(s.range.to)},
                      {"step", format_duration(to_duration(s.step_ns))},
                      {"step_seconds", static_cast<double>(s.step_ns) / 1e9},
                      {"filter", q.filter.describe()},
                      {"steps", std::move(steps)}};
  if (q.function) {
    nlohmann::json functions = nlohmann::json::array();
    for (const FunctionSeries& f : s.functions) {
      functions.push_back({{"name", f.name},
                           {"self_samples", f.self_samples},
                           {"total_samples", f.total_samples},
                           {"self_cpu_seconds", static_cast<double>(f.self_cpu_ns) / 1e9},
                           {"total_cpu_seconds", static_cast<double>(f.total_cpu_ns) / 1e9},
                           {"steps",
                            {{"self_samples", f.step_self_samples},
                             {"total_samples", f.step_total_samples},
                             {"self_cpu_seconds", seconds(f.step_self_cpu_ns)},
                             {"total_cpu_seconds", seconds(f.step_total_cpu_ns)}}}});
    }
    j["function"] = function_pattern;
    j["top"] = q.top;
    j["matched_functions"] = s.matched_functions;
    j["functions"] = std::move(functions);
  }
  j["sources"] = {{"snapshots", s.sources.snapshots}, {"summaries", s.sources.summaries},
                  {"cached", s.sources.cached},       {"rebuilt", s.sources.rebuilt},
                  {"decoded", s.sources.decoded},     {"live", s.sources.live}};
  return j;
}

}  // namespace

HttpResponse Api::series(const Params& p, const QueryControl& control) {
  auto allowed = p.allow({"from", "to", "step", "pid", "comm", "label", "function", "top"});
  if (!allowed) return bad_request(allowed.error().message());
  const UnixNanos now = unix_now_ns();
  auto range = parse_range(p, "from", "to", "-1h", now, max_range());
  if (!range) return bad_request(range.error().message());
  // Before the oldest data kept, a chart would show zeros where emberd knows nothing.
  const Duration max_age = queries_.store().limits().max_age;
  const UnixNanos kept_since = now - std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();
  if (range->from < kept_since) {
    return bad_request(fmt::format("from: {} is before the data emberd keeps (storage.max_age = {}: nothing before {})",
                                   format_time(range->from), format_duration(max_age), format_time(kept_since)));
  }
  SeriesQuery q;
  q.range = *range;
  auto step = p.one("step");
  if (!step) return bad_request(step.error().message());
  if (*step) {
    auto d = parse_duration(**step);
    if (!d) return bad_request("step: " + d.error().message());
    if (d->count() <= 0) return bad_request("step: must be longer than 0s");
    q.step_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
    const int64_t length = range->to - range->from;
    const int64_t points = (length + q.step_ns - 1) / q.step_ns;
    if (points > static_cast<int64_t>(SeriesEngine::kMaxPoints)) {
      // The shortest step that fits, rounded up to whole seconds.
      const int64_t min_s = (length / static_cast<int64_t>(SeriesEngine::kMaxPoints) + 999'999'999) / 1'000'000'000;
      return bad_request(fmt::format("step: {} over {} gives {} points, more than {}; use a step of {} or more",
                                     format_duration(*d), format_duration(to_duration(length)), points,
                                     SeriesEngine::kMaxPoints, format_duration(std::chrono::seconds(min_s))));
    }
  }
  auto filter = parse_filter(p);
  if (!filter) return bad_request(filter.error().message());
  q.filter = std::move(*filter);
  auto function = p.one("function");
  if (!function) return bad_request(function.error().message());
  if (*function && !(*function)->empty()) {
    auto re = compile_regex(**function, true);
    if (!re) return bad_request("function: " + re.error().message());
    q.function = std::move(*re);
  }
  auto top = optional_int(p, "top", 1, 100);
  if (!top) return bad_request(top.error().message());
  q.top = static_cast<size_t>(top->value_or(10));

  auto s = series_.series(q, control);
  if (!s) return query_failed(s.error());
  HttpResponse r;
  r.content_type = "application/json";
  // Function names come from binaries: invalid UTF-8 is replaced, never a failed answer.
  r.body = series_json(*s, q, function->value_or("")).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n";
  if (auto too_large = check_answer_size(r.body.size())) return *too_large;
  return r;
}

}  // namespace ember::daemon
