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

// The resource metrics: their names in the API and their units.
struct Metric {
  std::string_view name;
  std::string_view unit;
};
constexpr Metric kMetrics[] = {{"rss", "bytes"},         {"cpu", "seconds"},  {"io_read", "bytes"},
                               {"io_write", "bytes"},    {"threads", "threads"}, {"ctx_switches", "switches"}};

std::string metric_names() {
  std::string out;
  for (const Metric& m : kMetrics) out += fmt::format("{}{}", out.empty() ? "" : ", ", m.name);
  return out;
}

// One step: {"start", "value"} and the parts of the value (user/system, voluntary/involuntary);
// null where the step has no reading of the process (not running, or not profiled then).
nlohmann::json resource_step(std::string_view metric, UnixNanos start, const ResourceStep& s) {
  nlohmann::json j = {{"start", format_time(start)}, {"value", nullptr}};
  const auto& u = s.used;
  if (metric == "rss") {
    if (s.last) j["value"] = s.last->rss_bytes;
  } else if (metric == "threads") {
    if (s.last) j["value"] = s.last->threads;
  } else if (metric == "cpu") {
    j["user"] = u ? nlohmann::json(static_cast<double>(u->cpu_user_ns) / 1e9) : nlohmann::json();
    j["system"] = u ? nlohmann::json(static_cast<double>(u->cpu_system_ns) / 1e9) : nlohmann::json();
    if (u) j["value"] = static_cast<double>(u->cpu_user_ns + u->cpu_system_ns) / 1e9;
  } else if (metric == "io_read") {
    if (u && s.used_io) j["value"] = u->io_read_bytes;
  } else if (metric == "io_write") {
    if (u && s.used_io) j["value"] = u->io_write_bytes;
  } else if (metric == "ctx_switches") {
    j["voluntary"] = u ? nlohmann::json(u->voluntary_ctx_switches) : nlohmann::json();
    j["involuntary"] = u ? nlohmann::json(u->involuntary_ctx_switches) : nlohmann::json();
    if (u) j["value"] = u->voluntary_ctx_switches + u->involuntary_ctx_switches;
  }
  return j;
}

nlohmann::json resource_json(const ResourceSeries& s, const Metric& metric, const SampleFilter& filter) {
  nlohmann::json steps = nlohmann::json::array();
  for (size_t i = 0; i < s.starts.size(); ++i) steps.push_back(resource_step(metric.name, s.starts[i], s.steps[i]));
  return {{"from", format_time(s.range.from)},
          {"to", format_time(s.range.to)},
          {"step", format_duration(to_duration(s.step_ns))},
          {"step_seconds", static_cast<double>(s.step_ns) / 1e9},
          {"filter", filter.describe()},
          {"metric", metric.name},
          {"unit", metric.unit},
          {"steps", std::move(steps)},
          {"sources",
           {{"snapshots", s.sources.snapshots},
            {"summaries", s.sources.summaries},
            {"cached", s.sources.cached},
            {"rebuilt", s.sources.rebuilt},
            {"decoded", s.sources.decoded}}}};
}

HttpResponse json_answer(const nlohmann::json& j) {
  HttpResponse r;
  r.content_type = "application/json";
  // Names come from binaries and programs: invalid UTF-8 is replaced, never a failed answer.
  r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

}  // namespace

HttpResponse Api::series(const Params& p, const QueryControl& control) {
  auto allowed = p.allow({"from", "to", "step", "pid", "comm", "label", "function", "top", "metric"});
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
  auto metric_name = p.one("metric");
  if (!metric_name) return bad_request(metric_name.error().message());
  if (*metric_name) {
    // A resource series is one process's: its pid and nothing else chooses it.
    const Metric* metric = nullptr;
    for (const Metric& m : kMetrics) {
      if (m.name == **metric_name) metric = &m;
    }
    if (!metric) {
      return bad_request(fmt::format("metric: unknown metric '{}' (valid: {})", **metric_name, metric_names()));
    }
    if (*function) return bad_request("function: not with metric= (a metric is a process's, not a function's)");
    for (std::string_view key : {"comm", "label", "top"}) {
      if (!p.all(key).empty()) return bad_request(fmt::format("{}: not with metric= (a metric takes pid= only)", key));
    }
    if (q.filter.pids.size() != 1) {
      return bad_request(fmt::format("pid: metric={} needs the pid of one process (pid=PID){}", metric->name,
                                     q.filter.pids.empty() ? "" : fmt::format(", not {}", q.filter.pids.size())));
    }
    ResourceQuery rq;
    rq.range = q.range;
    rq.step_ns = q.step_ns;
    rq.pid = q.filter.pids.front();
    auto s = series_.resources(rq, control);
    if (!s) return query_failed(s.error());
    HttpResponse r = json_answer(resource_json(*s, *metric, q.filter));
    if (auto too_large = check_answer_size(r.body.size())) return *too_large;
    return r;
  }
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
  HttpResponse r = json_answer(series_json(*s, q, function->value_or("")));
  if (auto too_large = check_answer_size(r.body.size())) return *too_large;
  return r;
}

}  // namespace ember::daemon
