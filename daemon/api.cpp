#include "daemon/api.h"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "analysis/report.h"
#include "daemon/api_params.h"
#include "daemon/health_page.h"
#include "daemon/index_page.h"
#include "daemon/metrics_page.h"
#include "daemon/url.h"
#include "flamegraph/flamegraph.h"
#include "flamegraph/speedscope.h"
#include "profile/folded.h"
#include "proto/pprof.h"

namespace ember::daemon {

namespace {

// Answers built from more than this are followed by malloc_trim: their memory goes back to
// the system instead of staying in the heap (RSS stayed at 1.48 GB after one large answer).
constexpr size_t kTrimAfterBytes = size_t{16} << 20;

constexpr std::string_view kSvgPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";

// The bytes of format_folded(stacks), counted without writing them.
uint64_t folded_bytes(const profile::FoldedStacks& stacks) {
  uint64_t bytes = 0;
  for (const profile::FoldedStacks::Stack& s : stacks.stacks) {
    for (profile::StringId f : s.frames) bytes += stacks.names.get(f).size() + 1;  // name and ';' or ' '
    bytes += fmt::formatted_size("{}\n", s.value);
  }
  return bytes;
}

}  // namespace

Api::Api(QueryEngine& queries, const StatusSource& status, ApiOptions options)
    : queries_(queries), series_(queries), status_(status), options_(std::move(options)) {}

void Api::set_limits(Duration max_range, uint64_t max_answer_bytes) {
  std::lock_guard lock(mutex_);
  options_.max_range = max_range;
  options_.max_answer_bytes = max_answer_bytes;
}

Duration Api::max_range() const {
  std::lock_guard lock(mutex_);
  return options_.max_range;
}

bool Api::is_cheap(std::string_view path) {
  return path == "/healthz" || path == "/metrics" || path.starts_with("/ui/");
}

std::optional<HttpResponse> Api::check_answer_size(uint64_t bytes) const {
  uint64_t limit;
  {
    std::lock_guard lock(mutex_);
    limit = options_.max_answer_bytes;
  }
  if (bytes <= limit) return std::nullopt;
  return error_response(422, fmt::format("the answer would be {} bytes, more than http.max_answer_bytes ({}): narrow "
                                         "the time range, filter by pid, comm or label, or raise http.max_answer_bytes",
                                         bytes, format_bytes(limit)));
}

HttpResponse Api::handle(const HttpRequest& request) {
  std::string_view target = request.target;
  if (target.empty() || target.front() != '/') return bad_request("the request target must be a path");
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  // Nothing here is a file, but a path that tries to climb is answered plainly, not routed.
  if (path.find("..") != std::string_view::npos || path.find('%') != std::string_view::npos ||
      path.find('\\') != std::string_view::npos || path.find("//") != std::string_view::npos) {
    return bad_request("the path may not contain '..', '//', '\\' or %-escapes");
  }
  auto values = parse_query_string(query);
  if (!values) return bad_request(values.error().message());
  Params params(std::move(*values));
  const QueryControl& control = request.control ? *request.control : QueryControl::none();

  if (path == "/" || path == "/index.html") return index(params);
  if (path.starts_with("/ui/")) {
    if (auto file = ui_file_response(path.substr(4))) return *file;
  }
  if (path == "/healthz") return health_response(status_.status(), unix_now_ns());
  if (path == "/metrics") return metrics();
  if (path == "/api/v1/targets") return targets(params);
  if (path == "/api/v1/flamegraph.svg") return profile_answer("svg", params, control);
  if (path == "/api/v1/profile.pb.gz") return profile_answer("pprof", params, control);
  if (path == "/api/v1/folded") return profile_answer("folded", params, control);
  if (path == "/api/v1/speedscope.json") return profile_answer("speedscope", params, control);
  if (path == "/api/v1/report.json") return profile_answer("report", params, control);
  if (path == "/api/v1/diff.svg") return diff(params, control);
  if (path == "/api/v1/series") return series(params, control);
  if (path == "/api/v1/compare") return compare(params, control);
  return error_response(404, "no such endpoint; see / for what emberd serves");
}

HttpResponse Api::profile_answer(std::string_view kind, const Params& p, const QueryControl& control) {
  Result<void> allowed =
      kind == "svg"      ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "title", "width", "per_pid", "per_thread"})
      : kind == "folded" ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "per_pid", "per_thread"})
      : kind == "report" ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "top"})
      : kind == "speedscope" ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "title"})
                         : p.allow({"from", "to", "pid", "comm", "label", "sample_type"});
  if (!allowed) return bad_request(allowed.error().message());
  auto range = parse_range(p, "from", "to", "-1h", unix_now_ns(), max_range());
  if (!range) return bad_request(range.error().message());
  auto filter = parse_filter(p);
  if (!filter) return bad_request(filter.error().message());
  profile::FoldOptions fold;
  for (auto [key, field] : {std::pair{"per_pid", &fold.per_pid}, std::pair{"per_thread", &fold.per_thread}}) {
    auto v = optional_bool(p, key);
    if (!v) return bad_request(v.error().message());
    if (*v) *field = **v;
  }
  auto top = optional_int(p, "top", 1, 1000);
  if (!top) return bad_request(top.error().message());
  auto title = p.one("title");
  if (!title) return bad_request(title.error().message());
  auto width = optional_int(p, "width", 200, 10000);
  if (!width) return bad_request(width.error().message());
  auto sample_type = p.one("sample_type");
  if (!sample_type) return bad_request(sample_type.error().message());

  auto merged = queries_.profile(*range, *filter, control);
  if (!merged) return query_failed(merged.error());
  if (auto ok = control.check(); !ok) return query_failed(ok.error());
  if (*sample_type) {
    // Which value to show (samples, cpu; with off_cpu also wall, off_cpu, blocked, runnable):
    // folded and SVG fold it, report and pprof take it as their default (pprof keeps them all).
    auto index = merged->value_index(**sample_type);
    if (!index) return bad_request("sample_type: " + index.error().message());
    fold.value_index = *index;
    merged->default_sample_type = merged->strings.intern(**sample_type);
  }
  const bool large = estimate_bytes(*merged) > kTrimAfterBytes;
  HttpResponse r = render_answer(kind, *merged, *range, *filter, fold, top->value_or(0), *title,
                                 width->value_or(0));
  merged = profile::Profile();
  if (large) ::malloc_trim(0);
  return r;
}

HttpResponse Api::render_answer(std::string_view kind, profile::Profile& prof, const TimeRange& range,
                                const SampleFilter& filter, const profile::FoldOptions& fold, int64_t top,
                                const std::optional<std::string>& title, int64_t width) {
  const std::string base_name = fmt::format("emberd-{}-{}-{}", safe_file_part(options_.host),
                                            format_time_compact(range.from), format_time_compact(range.to));
  HttpResponse r;
  if (kind == "pprof") {
    // emberd has symbolized everything it could, on the host where the binaries are. A mapping
    // left without functions would make `go tool pprof http://...` ask this server's /symbolz for
    // the rest and give up on its error; saying "has functions" is what the Go runtime's own
    // profile endpoint says too. (Files written by `ember record` keep the plain flags, so that
    // pprof may still try the binaries it finds locally.)
    for (profile::Mapping& m : prof.mappings) m.has_functions = true;
    auto bytes = proto::encode(prof, proto::Compression::kGzip);
    if (!bytes) return error_response(500, bytes.error().message());
    if (auto too_large = check_answer_size(bytes->size())) return *too_large;
    r.content_type = "application/octet-stream";
    r.body = std::move(*bytes);
    r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.pb.gz\"", base_name));
    return r;
  }
  if (kind == "report") {
    analysis::ReportOptions options;
    if (top > 0) options.top = static_cast<size_t>(top);
    auto report = analysis::make_report(prof, options);
    if (!report) return error_response(500, report.error().message());
    nlohmann::json j = analysis::to_json(*report);
    j["from"] = format_time(range.from);
    j["to"] = format_time(range.to);
    j["filter"] = filter.describe();
    r.content_type = "application/json";
    // Function names come from binaries: invalid UTF-8 is replaced, never a failed answer.
    r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (auto too_large = check_answer_size(r.body.size())) return *too_large;
    r.headers.emplace_back("Content-Disposition", fmt::format("inline; filename=\"{}-report.json\"", base_name));
    return r;
  }
  if (kind == "speedscope") {
    // One profile per thread, in time order where the snapshots kept it (see flamegraph/speedscope.h);
    // a sample_type asks for that value aggregated instead.
    flamegraph::SpeedscopeOptions options;
    options.value_index = fold.value_index;
    options.name = title ? title->substr(0, 200) : base_name;
    options.max_bytes = SIZE_MAX;  // bounded below, with the answer's own message
    auto body = flamegraph::render_speedscope(prof, options);
    if (!body) return error_response(500, body.error().message());
    if (auto too_large = check_answer_size(body->size())) return *too_large;
    r.content_type = "application/json";
    r.body = std::move(*body);
    r.headers.emplace_back("Content-Disposition",
                           fmt::format("attachment; filename=\"{}.speedscope.json\"", base_name));
    return r;
  }
  profile::FoldedStacks stacks = profile::fold(prof, fold);
  if (kind == "folded") {
    // Counted before it is written: the text is the largest of the answers.
    if (auto too_large = check_answer_size(folded_bytes(stacks))) return *too_large;
    r.body = profile::format_folded(stacks);
    r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.folded\"", base_name));
    return r;
  }
  flamegraph::SvgOptions svg;
  std::string what = filter.empty() ? "all processes" : filter.describe();
  svg.title = title ? title->substr(0, 200) : fmt::format("emberd: {} · {}", options_.host, what);
  if (width > 0) svg.width = static_cast<int>(width);
  DaemonStatus st = status_.status();
  std::string note = sampling_note(st.collector);
  svg.subtitle = fmt::format("{} to {} · {} samples{}", format_time(range.from), format_time(range.to),
                             thousands(static_cast<uint64_t>(std::max<int64_t>(0, stacks.total()))),
                             note.empty() ? "" : " · " + note);
  r.content_type = "image/svg+xml";
  r.body = flamegraph::render_svg(stacks, svg);
  if (auto too_large = check_answer_size(r.body.size())) return *too_large;
  r.headers.emplace_back("Content-Disposition", fmt::format("inline; filename=\"{}.svg\"", base_name));
  r.headers.emplace_back("Content-Security-Policy", std::string(kSvgPolicy));
  return r;
}

HttpResponse Api::diff(const Params& p, const QueryControl& control) {
  auto allowed = p.allow({"base_from", "base_to", "from", "to", "pid", "comm", "label", "title", "width", "normalize"});
  if (!allowed) return bad_request(allowed.error().message());
  auto ranges = parse_two_ranges(p, unix_now_ns(), max_range());
  if (!ranges) return bad_request(ranges.error().message());
  const TimeRange* current = &ranges->current;
  const TimeRange* base = &ranges->base;
  const SampleFilter* filter = &ranges->filter;
  flamegraph::DiffOptions options;
  auto normalize = optional_bool(p, "normalize");
  if (!normalize) return bad_request(normalize.error().message());
  if (*normalize) options.normalize = **normalize;
  auto width = optional_int(p, "width", 200, 10000);
  if (!width) return bad_request(width.error().message());
  if (*width) options.svg.width = static_cast<int>(**width);
  auto baseline = queries_.profile(*base, *filter, control);
  if (!baseline) return query_failed(baseline.error());
  auto now_profile = queries_.profile(*current, *filter, control);
  if (!now_profile) return query_failed(now_profile.error());
  auto title = p.one("title");
  if (!title) return bad_request(title.error().message());
  std::string what = filter->empty() ? "all processes" : filter->describe();
  options.svg.title = *title ? (*title)->substr(0, 200) : fmt::format("emberd diff: {} · {}", options_.host, what);
  options.svg.subtitle = fmt::format("{} to {} (red: more than in {} to {}, blue: less)", format_time(current->from),
                                     format_time(current->to), format_time(base->from), format_time(base->to));
  HttpResponse r;
  r.content_type = "image/svg+xml";
  if (auto ok = control.check(); !ok) return query_failed(ok.error());
  r.body = flamegraph::render_diff_svg(profile::fold(*baseline), profile::fold(*now_profile), options);
  if (auto too_large = check_answer_size(r.body.size())) return *too_large;
  r.headers.emplace_back("Content-Disposition",
                         fmt::format("inline; filename=\"emberd-{}-diff-{}-{}.svg\"", safe_file_part(options_.host),
                                     format_time_compact(current->from), format_time_compact(current->to)));
  r.headers.emplace_back("Content-Security-Policy", std::string(kSvgPolicy));
  return r;
}

HttpResponse Api::targets(const Params& p) {
  auto allowed = p.allow({"from", "to", "limit"});
  if (!allowed) return bad_request(allowed.error().message());
  auto range = parse_range(p, "from", "to", "-1h", unix_now_ns(), max_range());
  if (!range) return bad_request(range.error().message());
  auto limit = optional_int(p, "limit", 1, 10000);
  if (!limit) return bad_request(limit.error().message());
  nlohmann::json rows = nlohmann::json::array();
  for (const TargetRow& t : queries_.targets(*range, static_cast<size_t>(limit->value_or(1000)))) {
    nlohmann::json row = {{"pid", t.pid},
                          {"comm", t.comm},
                          {"samples", t.samples},
                          {"cpu_seconds", static_cast<double>(t.cpu_ns) / 1e9},
                          {"last_seen", format_time(t.last_seen)}};
    // Its latest resources: totals since the process started; null when it was never read
    // (or, for I/O, when /proc/PID/io could not be read).
    for (const char* key : {"resources_time", "rss_bytes", "cpu_user_seconds", "cpu_system_seconds", "io_read_bytes",
                            "io_write_bytes", "threads", "voluntary_ctx_switches", "involuntary_ctx_switches"}) {
      row[key] = nullptr;
    }
    if (const auto& res = t.resources) {
      row["resources_time"] = format_time(res->time_ns);
      row["rss_bytes"] = res->rss_bytes;
      row["cpu_user_seconds"] = static_cast<double>(res->total.cpu_user_ns) / 1e9;
      row["cpu_system_seconds"] = static_cast<double>(res->total.cpu_system_ns) / 1e9;
      if (res->has_io) {
        row["io_read_bytes"] = res->total.io_read_bytes;
        row["io_write_bytes"] = res->total.io_write_bytes;
      }
      row["threads"] = res->threads;
      row["voluntary_ctx_switches"] = res->total.voluntary_ctx_switches;
      row["involuntary_ctx_switches"] = res->total.involuntary_ctx_switches;
    }
    rows.push_back(std::move(row));
  }
  DaemonStatus st = status_.status();
  nlohmann::json j = {{"from", format_time(range->from)},
                      {"to", format_time(range->to)},
                      {"targets", st.collector.targets},
                      {"processes", rows}};
  HttpResponse r;
  r.content_type = "application/json";
  r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse Api::metrics() {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_text(status_.status(), read_self_usage());
  return r;
}

HttpResponse Api::index(const Params& p) {
  auto allowed = p.allow({"from"});
  if (!allowed) return bad_request(allowed.error().message());
  auto from = p.one("from");
  if (!from) return bad_request(from.error().message());
  auto range = parse_range(p, "from", "to", "-1h", unix_now_ns(), max_range());
  if (!range) return bad_request(range.error().message());
  DaemonStatus st = status_.status();
  IndexPage page{options_.host, from->value_or("-1h"), *range, &st, queries_.targets(*range, 200)};
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = render_index_page(page);
  r.headers.emplace_back("Content-Security-Policy", std::string(kIndexPagePolicy));
  return r;
}

}  // namespace ember::daemon
