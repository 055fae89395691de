#include "daemon/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "analysis/report.h"
#include "daemon/metrics.h"
#include "daemon/target_filter.h"
#include "daemon/url.h"
#include "flamegraph/flamegraph.h"
#include "profile/folded.h"
#include "proto/pprof.h"

namespace ember::daemon {

namespace {

constexpr size_t kMaxLabels = 16;

HttpResponse bad_request(std::string reason) { return error_response(400, std::move(reason)); }

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// The parameters of one request, checked against what the endpoint accepts.
class Params {
 public:
  explicit Params(std::vector<std::pair<std::string, std::string>> values) : values_(std::move(values)) {}

  Result<void> allow(std::initializer_list<std::string_view> known) const {
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
  // The single value of `key`; an error when it is given twice.
  Result<std::optional<std::string>> one(std::string_view key) const {
    std::optional<std::string> found;
    for (const auto& [k, v] : values_) {
      if (k != key) continue;
      if (found) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: given more than once", key));
      found = v;
    }
    return found;
  }
  std::vector<std::string> all(std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) {
      if (k == key) out.push_back(v);
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

namespace {

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

Result<SampleFilter> parse_filter(const Params& p) {
  SampleFilter f;
  for (const std::string& list : p.all("pid")) {
    std::string_view rest = list;
    while (true) {
      size_t comma = rest.find(',');
      auto pid = parse_int("pid", rest.substr(0, comma), 1, INT32_MAX);
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

std::string thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_cpu(int64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 60) return fmt::format("{:.1f} min", s / 60);
  if (s >= 1) return fmt::format("{:.1f} s", s);
  return fmt::format("{:.0f} ms", s * 1000);
}

constexpr std::string_view kSvgPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";
constexpr std::string_view kHtmlPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

std::string sampling_note(const CollectorStatus& c) {
  if (c.event.empty()) return "";
  return fmt::format("{} at {} Hz, {} stacks", c.event, c.frequency_hz, c.call_graph == "dwarf" ? "DWARF" : "frame-pointer");
}

}  // namespace

Api::Api(QueryEngine& queries, const StatusSource& status, ApiOptions options)
    : queries_(queries), status_(status), options_(std::move(options)) {}

void Api::set_max_range(Duration max_range) {
  std::lock_guard lock(mutex_);
  options_.max_range = max_range;
}

bool Api::is_cheap(std::string_view path) { return path == "/healthz" || path == "/metrics"; }

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

  if (path == "/" || path == "/index.html") return index(params);
  if (path == "/healthz") return healthz();
  if (path == "/metrics") return metrics();
  if (path == "/api/v1/targets") return targets(params);
  if (path == "/api/v1/flamegraph.svg") return profile_answer("svg", params);
  if (path == "/api/v1/profile.pb.gz") return profile_answer("pprof", params);
  if (path == "/api/v1/folded") return profile_answer("folded", params);
  if (path == "/api/v1/report.json") return profile_answer("report", params);
  if (path == "/api/v1/diff.svg") return diff(params);
  return error_response(404, "no such endpoint; see / for what emberd serves");
}

HttpResponse Api::profile_answer(std::string_view kind, const Params& p) {
  Duration max_range;
  {
    std::lock_guard lock(mutex_);
    max_range = options_.max_range;
  }
  Result<void> allowed =
      kind == "svg"      ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "title", "width", "per_pid", "per_thread"})
      : kind == "folded" ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "per_pid", "per_thread"})
      : kind == "report" ? p.allow({"from", "to", "pid", "comm", "label", "sample_type", "top"})
                         : p.allow({"from", "to", "pid", "comm", "label", "sample_type"});
  if (!allowed) return bad_request(allowed.error().message());
  const UnixNanos now = unix_now_ns();
  auto range = parse_range(p, "from", "to", "-1h", now, max_range);
  if (!range) return bad_request(range.error().message());
  auto filter = parse_filter(p);
  if (!filter) return bad_request(filter.error().message());

  profile::FoldOptions fold;
  for (auto [key, field] : {std::pair{"per_pid", &fold.per_pid}, std::pair{"per_thread", &fold.per_thread}}) {
    auto v = p.one(key);
    if (!v) return bad_request(v.error().message());
    if (*v) {
      auto b = parse_bool(key, **v);
      if (!b) return bad_request(b.error().message());
      *field = *b;
    }
  }

  auto merged = queries_.profile(*range, *filter);
  if (!merged) {
    if (merged.error().code() == ErrorCode::kResourceExhausted) return error_response(422, merged.error().message());
    return error_response(500, merged.error().message());
  }
  profile::Profile& prof = *merged;
  // sample_type: which value to show (samples, cpu; with off_cpu also wall, off_cpu, blocked,
  // runnable); pprof answers carry them all and make the chosen one their default.
  auto sample_type = p.one("sample_type");
  if (!sample_type) return bad_request(sample_type.error().message());
  if (*sample_type) {
    auto index = prof.value_index(**sample_type);
    if (!index) return bad_request("sample_type: " + index.error().message());
    fold.value_index = *index;
    prof.default_sample_type = prof.strings.intern(**sample_type);
  }
  const std::string base_name = fmt::format("emberd-{}-{}-{}", safe_file_part(options_.host),
                                            format_time_compact(range->from), format_time_compact(range->to));
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
    r.content_type = "application/octet-stream";
    r.body = std::move(*bytes);
    r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.pb.gz\"", base_name));
    return r;
  }
  if (kind == "report") {
    analysis::ReportOptions options;
    if (*sample_type) options.sample_type = std::string(**sample_type);
    auto top = p.one("top");
    if (!top) return bad_request(top.error().message());
    if (*top) {
      auto n = parse_int("top", **top, 1, 1000);
      if (!n) return bad_request(n.error().message());
      options.top = static_cast<size_t>(*n);
    }
    auto report = analysis::make_report(prof, options);
    if (!report) return error_response(500, report.error().message());
    nlohmann::json j = analysis::to_json(*report);
    j["from"] = format_time(range->from);
    j["to"] = format_time(range->to);
    j["filter"] = filter->describe();
    r.content_type = "application/json";
    // Function names come from binaries: invalid UTF-8 is replaced, never a failed answer.
    r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    r.headers.emplace_back("Content-Disposition", fmt::format("inline; filename=\"{}-report.json\"", base_name));
    return r;
  }
  profile::FoldedStacks stacks = profile::fold(prof, fold);
  if (kind == "folded") {
    r.body = profile::format_folded(stacks);
    r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.folded\"", base_name));
    return r;
  }
  flamegraph::SvgOptions svg;
  auto title = p.one("title");
  if (!title) return bad_request(title.error().message());
  std::string what = filter->empty() ? "all processes" : filter->describe();
  svg.title = *title ? (*title)->substr(0, 200) : fmt::format("emberd: {} · {}", options_.host, what);
  auto width = p.one("width");
  if (!width) return bad_request(width.error().message());
  if (*width) {
    auto w = parse_int("width", **width, 200, 10000);
    if (!w) return bad_request(w.error().message());
    svg.width = static_cast<int>(*w);
  }
  DaemonStatus st = status_.status();
  std::string note = sampling_note(st.collector);
  svg.subtitle = fmt::format("{} to {} · {} samples{}", format_time(range->from), format_time(range->to),
                             thousands(static_cast<uint64_t>(std::max<int64_t>(0, stacks.total()))),
                             note.empty() ? "" : " · " + note);
  r.content_type = "image/svg+xml";
  r.body = flamegraph::render_svg(stacks, svg);
  r.headers.emplace_back("Content-Disposition", fmt::format("inline; filename=\"{}.svg\"", base_name));
  r.headers.emplace_back("Content-Security-Policy", std::string(kSvgPolicy));
  return r;
}

HttpResponse Api::diff(const Params& p) {
  auto allowed = p.allow({"base_from", "base_to", "from", "to", "pid", "comm", "label", "title", "width", "normalize"});
  if (!allowed) return bad_request(allowed.error().message());
  Duration max_range;
  {
    std::lock_guard lock(mutex_);
    max_range = options_.max_range;
  }
  const UnixNanos now = unix_now_ns();
  auto current = parse_range(p, "from", "to", "-1h", now, max_range);
  if (!current) return bad_request(current.error().message());
  // By default the baseline is the same length of time just before.
  const int64_t length = current->to - current->from;
  TimeRange base;
  {
    auto bf = p.one("base_from");
    auto bt = p.one("base_to");
    if (!bf) return bad_request(bf.error().message());
    if (!bt) return bad_request(bt.error().message());
    UnixNanos base_to = current->from;
    UnixNanos base_from = current->from - length;
    if (*bt) {
      auto t = parse_time(**bt, now);
      if (!t) return bad_request("base_to: " + t.error().message());
      base_to = *t;
      if (!*bf) base_from = base_to - length;
    }
    if (*bf) {
      auto f = parse_time(**bf, now);
      if (!f) return bad_request("base_from: " + f.error().message());
      base_from = *f;
      if (!*bt) base_to = base_from + length;
    }
    if (base_from >= base_to) return bad_request("base_from must be before base_to");
    if (base_to - base_from > std::chrono::duration_cast<std::chrono::nanoseconds>(max_range).count()) {
      return bad_request(fmt::format("the range base_from..base_to is longer than http.max_range ({})", format_duration(max_range)));
    }
    base = TimeRange{base_from, base_to};
  }
  auto filter = parse_filter(p);
  if (!filter) return bad_request(filter.error().message());
  flamegraph::DiffOptions options;
  if (auto n = p.one("normalize"); !n) {
    return bad_request(n.error().message());
  } else if (*n) {
    auto b = parse_bool("normalize", **n);
    if (!b) return bad_request(b.error().message());
    options.normalize = *b;
  }
  if (auto w = p.one("width"); !w) {
    return bad_request(w.error().message());
  } else if (*w) {
    auto v = parse_int("width", **w, 200, 10000);
    if (!v) return bad_request(v.error().message());
    options.svg.width = static_cast<int>(*v);
  }
  auto baseline = queries_.profile(base, *filter);
  if (!baseline) {
    return error_response(baseline.error().code() == ErrorCode::kResourceExhausted ? 422 : 500, baseline.error().message());
  }
  auto now_profile = queries_.profile(*current, *filter);
  if (!now_profile) {
    return error_response(now_profile.error().code() == ErrorCode::kResourceExhausted ? 422 : 500,
                          now_profile.error().message());
  }
  auto title = p.one("title");
  if (!title) return bad_request(title.error().message());
  std::string what = filter->empty() ? "all processes" : filter->describe();
  options.svg.title = *title ? (*title)->substr(0, 200) : fmt::format("emberd diff: {} · {}", options_.host, what);
  options.svg.subtitle = fmt::format("{} to {} (red: more than in {} to {}, blue: less)", format_time(current->from),
                                     format_time(current->to), format_time(base.from), format_time(base.to));
  HttpResponse r;
  r.content_type = "image/svg+xml";
  r.body = flamegraph::render_diff_svg(profile::fold(*baseline), profile::fold(*now_profile), options);
  r.headers.emplace_back("Content-Disposition",
                         fmt::format("inline; filename=\"emberd-{}-diff-{}-{}.svg\"", safe_file_part(options_.host),
                                     format_time_compact(current->from), format_time_compact(current->to)));
  r.headers.emplace_back("Content-Security-Policy", std::string(kSvgPolicy));
  return r;
}

HttpResponse Api::targets(const Params& p) {
  auto allowed = p.allow({"from", "to", "limit"});
  if (!allowed) return bad_request(allowed.error().message());
  Duration max_range;
  {
    std::lock_guard lock(mutex_);
    max_range = options_.max_range;
  }
  auto range = parse_range(p, "from", "to", "-1h", unix_now_ns(), max_range);
  if (!range) return bad_request(range.error().message());
  size_t limit = 1000;
  auto l = p.one("limit");
  if (!l) return bad_request(l.error().message());
  if (*l) {
    auto n = parse_int("limit", **l, 1, 10000);
    if (!n) return bad_request(n.error().message());
    limit = static_cast<size_t>(*n);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const TargetRow& t : queries_.targets(*range, limit)) {
    rows.push_back({{"pid", t.pid},
                    {"comm", t.comm},
                    {"samples", t.samples},
                    {"cpu_seconds", static_cast<double>(t.cpu_ns) / 1e9},
                    {"last_seen", format_time(t.last_seen)}});
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

HttpResponse Api::healthz() {
  DaemonStatus st = status_.status();
  const UnixNanos now = unix_now_ns();
  std::vector<std::string> reasons;
  if (!st.collector.running) reasons.push_back("sampling is not running");
  if (st.store.degraded) reasons.push_back("snapshots cannot be written: " + st.store.last_error);
  if (st.push_enabled && st.push.failing) reasons.push_back("push failing: " + st.push.last_error);
  nlohmann::json j;
  j["status"] = reasons.empty() ? "ok" : "degraded";
  j["reasons"] = reasons;
  j["version"] = st.version;
  j["uptime_seconds"] = static_cast<double>(now - st.started) / 1e9;
  j["samples"] = st.collector.stats.samples;
  j["lost_samples"] = st.collector.stats.lost_samples;
  j["sampling"] = {{"running", st.collector.running},
                   {"event", st.collector.event},
                   {"frequency_hz", st.collector.frequency_hz},
                   {"call_graph", st.collector.call_graph},
                   {"targets", st.collector.targets}};
  if (st.store.last_write_time) {
    j["last_snapshot"] = {{"time", format_time(st.store.last_write_time)}, {"file", st.store.last_write_name}};
  } else {
    j["last_snapshot"] = nullptr;
  }
  j["snapshots"] = st.store.snapshots;
  j["pending_snapshots"] = st.store.pending;
  j["store_bytes"] = st.store.bytes;
  HttpResponse r;
  r.content_type = "application/json";
  r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Degraded still serves: only a daemon that does not sample at all is unhealthy.
  r.status = st.collector.running ? 200 : 503;
  return r;
}

HttpResponse Api::metrics() {
  DaemonStatus st = status_.status();
  const auto& c = st.collector.stats;
  PrometheusText m;
  m.gauge("emberd_build_info", "emberd version (always 1).", 1, {{"version", st.version}});
  m.gauge("emberd_start_time_seconds", "When emberd started, Unix time.", static_cast<double>(st.started) / 1e9);
  m.gauge("emberd_sampling", "1 while sampling runs.", st.collector.running ? 1 : 0,
          {{"event", st.collector.event}, {"call_graph", st.collector.call_graph}});
  m.gauge("emberd_sampling_frequency_hertz", "Samples per second per CPU in effect.", st.collector.frequency_hz);
  m.counter("emberd_samples_total", "Samples recorded.", static_cast<double>(c.samples));
  m.counter("emberd_lost_samples_total", "Samples the kernel could not deliver (ring buffer full).",
            static_cast<double>(c.lost_samples));
  m.counter("emberd_dropped_samples_total", "Samples dropped past profiling.max_unique_stacks.",
            static_cast<double>(c.dropped_samples));
  m.counter("emberd_filtered_samples_total", "Samples of processes that are not targets.",
            static_cast<double>(c.filtered_samples));
  m.family("emberd_unwind_failures_total", "counter",
           "Stacks that could not be unwound completely, by reason (dwarf_*: DWARF unwinding; "
           "no_mapping counts frames).",
           {{{{"reason", "no_mapping"}}, static_cast<double>(c.frames_without_mapping)},
            {{{"reason", "depth_limit"}}, static_cast<double>(c.stacks_at_depth_limit)},
            {{{"reason", "dwarf_stack_end"}}, static_cast<double>(c.dwarf_stack_end)},
            {{{"reason", "dwarf_no_cfi"}}, static_cast<double>(c.dwarf_no_cfi)},
            {{{"reason", "dwarf_bad_memory"}}, static_cast<double>(c.dwarf_bad_memory)},
            {{{"reason", "dwarf_bad_frame"}}, static_cast<double>(c.dwarf_bad_frame)},
            {{{"reason", "dwarf_max_depth"}}, static_cast<double>(c.dwarf_max_depth)},
            {{{"reason", "dwarf_no_registers"}}, static_cast<double>(c.dwarf_no_registers)}});
  m.counter("emberd_dwarf_unwinds_total", "User stacks unwound with DWARF CFI.", static_cast<double>(c.dwarf_unwinds));
  m.counter("emberd_dwarf_unwinds_complete_total", "DWARF unwinds that reached the outermost frame.",
            static_cast<double>(c.dwarf_to_root));
  m.gauge("emberd_unwind_table_bytes", "Memory of the per-binary CFI tables held for DWARF unwinding.",
          static_cast<double>(c.unwind_table_bytes));
  m.counter("emberd_samples_without_process_total", "Samples of processes that were gone before anything was known of them.",
            static_cast<double>(c.samples_without_process));
  m.counter("emberd_malformed_records_total", "Perf records that could not be right and were skipped.",
            static_cast<double>(c.malformed_records));
  m.counter("emberd_throttle_events_total", "Times the kernel throttled sampling.", static_cast<double>(c.throttle_events));
  m.gauge("emberd_processes", "Processes in the collector's process table.", static_cast<double>(c.processes));
  m.counter("emberd_processes_evicted_total", "Processes evicted at profiling.max_processes.",
            static_cast<double>(c.processes_evicted));
  m.gauge("emberd_modules", "Distinct binaries known.", static_cast<double>(c.modules));
  m.gauge("emberd_held_files", "Binaries held open for symbolization.", static_cast<double>(c.held_files));
  m.gauge("emberd_live_unique_stacks", "Distinct stacks in the live window.", static_cast<double>(st.live_unique_stacks));
  m.gauge("emberd_live_window_bytes", "Approximate memory of the live window.", static_cast<double>(st.live_bytes));
  m.counter("emberd_collector_restarts_total", "Recorders replaced by configuration reloads.",
            static_cast<double>(st.collector.restarts));
  m.counter("emberd_snapshot_writes_total", "Snapshots written to disk.", static_cast<double>(st.store.writes));
  m.counter("emberd_snapshot_write_failures_total", "Snapshot writes that failed (kept in memory and retried).",
            static_cast<double>(st.store.write_failures));
  m.gauge("emberd_snapshots_pending", "Snapshots waiting to be written.", static_cast<double>(st.store.pending));
  m.gauge("emberd_snapshots_pending_bytes", "Bytes of snapshots waiting to be written.",
          static_cast<double>(st.store.pending_bytes));
  m.counter("emberd_snapshots_dropped_total", "Snapshots lost because they could not be written in time.",
            static_cast<double>(st.store.pending_dropped));
  m.counter("emberd_snapshots_deleted_total", "Snapshots deleted by retention.", static_cast<double>(st.store.deleted));
  m.counter("emberd_snapshots_quarantined_total", "Unreadable snapshots moved to quarantine/.",
            static_cast<double>(st.store.quarantined));
  m.gauge("emberd_store_snapshots", "Snapshots on disk.", static_cast<double>(st.store.snapshots));
  m.gauge("emberd_store_bytes", "Bytes of snapshots on disk.", static_cast<double>(st.store.bytes));
  m.gauge("emberd_last_snapshot_timestamp_seconds", "When the last snapshot was written, Unix time (0: never).",
          static_cast<double>(st.store.last_write_time) / 1e9);
  m.gauge("emberd_degraded", "1 while snapshots cannot be written.", st.store.degraded ? 1 : 0);
  m.counter("emberd_query_snapshots_decoded_total", "Stored snapshots decoded for queries (cache misses).",
            static_cast<double>(st.queries.snapshots_decoded));
  m.counter("emberd_query_cache_hits_total", "Queries answered from decoded snapshots in memory.",
            static_cast<double>(st.queries.cache_hits));
  m.gauge("emberd_query_cache_bytes", "Approximate memory of decoded snapshots kept for queries.",
          static_cast<double>(st.queries.cache_bytes));
  m.counter("emberd_symbolizer_addresses_total", "Addresses symbolized.", static_cast<double>(st.symbolizer.addresses));
  m.counter("emberd_symbolizer_binaries_opened_total", "Binaries opened and indexed by the symbolizer.",
            static_cast<double>(st.symbolizer.binaries_opened));
  m.counter("emberd_symbolizer_cache_evictions_total", "Binaries evicted from the symbolizer cache.",
            static_cast<double>(st.symbolizer.cache_evictions));
  m.counter("emberd_http_connections_total", "HTTP connections accepted.", static_cast<double>(st.http.connections));
  m.gauge("emberd_http_open_connections", "HTTP connections open now.", static_cast<double>(st.http.open_connections));
  m.counter("emberd_http_rejected_connections_total", "Connections refused past http.max_connections.",
            static_cast<double>(st.http.rejected_connections));
  m.counter("emberd_http_timeouts_total", "Connections closed by a read, write or idle timeout.",
            static_cast<double>(st.http.timeouts));
  m.counter("emberd_http_unauthorized_total", "Requests without a valid bearer token.",
            static_cast<double>(st.http.unauthorized));
  m.family("emberd_http_responses_total", "counter", "HTTP responses by status class.",
           {{{{"code", "2xx"}}, static_cast<double>(st.http.responses_2xx)},
            {{{"code", "3xx"}}, static_cast<double>(st.http.responses_3xx)},
            {{{"code", "4xx"}}, static_cast<double>(st.http.responses_4xx)},
            {{{"code", "5xx"}}, static_cast<double>(st.http.responses_5xx)}});
  m.counter("emberd_config_reloads_total", "Configuration reloads (SIGHUP) applied.", static_cast<double>(st.reloads));
  m.counter("emberd_config_reload_failures_total", "Configuration reloads refused (the old configuration stays).",
            static_cast<double>(st.reload_failures));
  if (st.push_enabled) {
    m.counter("emberd_push_sent_total", "Snapshots accepted by the push server.", static_cast<double>(st.push.sent));
    m.counter("emberd_push_failures_total", "Push attempts that failed.", static_cast<double>(st.push.failures));
    m.counter("emberd_push_dropped_total", "Snapshots given up on (attempts exhausted, refused, queue full).",
              static_cast<double>(st.push.dropped));
    m.gauge("emberd_push_queue", "Snapshots waiting to be pushed.", static_cast<double>(st.push.queued));
  }
  SelfUsage self = read_self_usage();
  m.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", self.cpu_seconds);
  m.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", static_cast<double>(self.rss_bytes));
  m.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", static_cast<double>(self.virtual_bytes));
  m.gauge("process_open_fds", "Number of open file descriptors.", static_cast<double>(self.open_fds));
  if (self.max_fds) m.gauge("process_max_fds", "Maximum number of open file descriptors.", static_cast<double>(self.max_fds));
  m.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", self.start_time_seconds);
  m.gauge("process_threads", "Threads of the process.", static_cast<double>(self.threads));
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = m.text();
  return r;
}

HttpResponse Api::index(const Params& p) {
  auto allowed = p.allow({"from"});
  if (!allowed) return bad_request(allowed.error().message());
  auto from_param = p.one("from");
  if (!from_param) return bad_request(from_param.error().message());
  static constexpr std::pair<std::string_view, std::string_view> kRanges[] = {
      {"-15m", "last 15 minutes"}, {"-1h", "last hour"}, {"-6h", "last 6 hours"},
      {"-24h", "last 24 hours"},   {"-7d", "last 7 days"}};
  std::string from = from_param->value_or("-1h");
  Duration max_range;
  {
    std::lock_guard lock(mutex_);
    max_range = options_.max_range;
  }
  auto range = parse_range(p, "from", "to", "-1h", unix_now_ns(), max_range);
  if (!range) return bad_request(range.error().message());
  DaemonStatus st = status_.status();
  std::vector<TargetRow> rows = queries_.targets(*range, 200);
  const std::string f = url_encode(from);

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<link rel=\"icon\" href=\"data:,\">\n";
  h += fmt::format("<title>emberd · {}</title>\n", html_escape(options_.host));
  h += "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
       "table{border-collapse:collapse}td,th{padding:.25em .8em;text-align:left;border-bottom:1px solid #ddd}"
       "td.n{text-align:right;font-variant-numeric:tabular-nums}a{color:#b3261e}"
       ".muted{color:#666}form{margin:1em 0}</style>\n</head><body>\n";
  h += fmt::format("<h1>emberd · {}</h1>\n", html_escape(options_.host));
  h += fmt::format("<p class=\"muted\">{} · {} · {} snapshots on disk ({} MiB) · {} samples, {} lost</p>\n",
                   html_escape(st.collector.targets.empty() ? "not sampling" : st.collector.targets),
                   html_escape(sampling_note(st.collector)), st.store.snapshots, st.store.bytes >> 20,
                   thousands(st.collector.stats.samples), thousands(st.collector.stats.lost_samples));
  h += "<form method=\"get\" action=\"/\"><label>Time range: <select name=\"from\" id=\"from\">";
  bool known = false;
  for (auto [value, label] : kRanges) {
    bool selected = value == from;
    known = known || selected;
    h += fmt::format("<option value=\"{}\"{}>{}</option>", value, selected ? " selected" : "", label);
  }
  if (!known) h += fmt::format("<option value=\"{}\" selected>{}</option>", html_escape(from), html_escape(from));
  h += "</select></label> <button type=\"submit\">Show</button></form>\n";
  if (st.collector.off_cpu) {
    // Off-CPU time is recorded: the default view is wall time; CPU time is one click away.
    h += fmt::format(
        "<p>Views: <a id=\"wall-flamegraph\" href=\"/api/v1/flamegraph.svg?from={0}&amp;sample_type=wall\">"
        "wall time</a> (on CPU, blocked, waiting for a CPU) · <a id=\"cpu-flamegraph\" "
        "href=\"/api/v1/flamegraph.svg?from={0}&amp;sample_type=cpu\">CPU time</a> · <a "
        "href=\"/api/v1/flamegraph.svg?from={0}&amp;sample_type=off_cpu\">off-CPU time</a></p>\n",
        f);
  }
  h += fmt::format(
      "<p>Whole host: <a id=\"host-flamegraph\" href=\"/api/v1/flamegraph.svg?from={0}\">flamegraph</a> · "
      "<a href=\"/api/v1/diff.svg?from={0}\">change against the period before</a> · "
      "<a href=\"/api/v1/report.json?from={0}\">top functions (JSON)</a> · "
      "<a href=\"/api/v1/profile.pb.gz?from={0}\">pprof</a> · "
      "<a href=\"/api/v1/folded?from={0}\">folded</a></p>\n",
      f);
  h += fmt::format("<h2>Processes, {} to {}</h2>\n", html_escape(format_time(range->from)), html_escape(format_time(range->to)));
  if (rows.empty()) {
    h += "<p id=\"no-targets\">No samples in this range yet.</p>\n";
  } else {
    h += "<table id=\"targets\"><thead><tr><th>process</th><th>pid</th><th>samples</th><th>CPU</th>"
         "<th>last seen</th><th>profiles</th></tr></thead><tbody>\n";
    for (const TargetRow& t : rows) {
      std::string comm_query = url_encode("^" + regex_escape(t.comm) + "$");
      h += fmt::format(
          "<tr><td><a class=\"comm\" href=\"/api/v1/flamegraph.svg?from={0}&amp;comm={1}\">{2}</a></td>"
          "<td><a class=\"pid\" href=\"/api/v1/flamegraph.svg?from={0}&amp;pid={3}\">{3}</a></td>"
          "<td class=\"n\">{4}</td><td class=\"n\">{5}</td><td>{6}</td>"
          "<td><a href=\"/api/v1/profile.pb.gz?from={0}&amp;pid={3}\">pprof</a> · "
          "<a href=\"/api/v1/report.json?from={0}&amp;pid={3}\">top</a></td></tr>\n",
          f, comm_query, html_escape(t.comm.empty() ? "?" : t.comm), t.pid, thousands(t.samples),
          format_cpu(t.cpu_ns), html_escape(format_time(t.last_seen)));
    }
    h += "</tbody></table>\n";
  }
  h += "<p class=\"muted\"><a href=\"/healthz\">healthz</a> · <a href=\"/metrics\">metrics</a> · "
       "<a href=\"/api/v1/targets\">targets (JSON)</a></p>\n</body></html>\n";
  HttpResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(h);
  r.headers.emplace_back("Content-Security-Policy", std::string(kHtmlPolicy));
  return r;
}

}  // namespace ember::daemon
