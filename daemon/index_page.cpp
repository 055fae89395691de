#include "daemon/index_page.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <utility>

#include "common/regex.h"
#include "common/text.h"
#include "daemon/ui_files.h"
#include "daemon/url.h"

namespace ember::daemon {

std::string html_escape(std::string_view text) { return common::markup_escaped(text); }

namespace {

std::string format_cpu(int64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 60) return fmt::format("{:.1f} min", s / 60);
  if (s >= 1) return fmt::format("{:.1f} s", s);
  return fmt::format("{:.0f} ms", s * 1000);
}

}  // namespace

std::string sampling_note(const CollectorStatus& c) {
  if (c.event.empty()) return "";
  return fmt::format("{} at {} Hz, {} stacks", c.event, c.frequency_hz, c.call_graph == "dwarf" ? "DWARF" : "frame-pointer");
}

namespace {

// The page's template with each {{name}} replaced by its value. A name without a value is left as
// written (a mistake in ui/index.html that the tests see), and values are not searched again.
std::string fill_placeholders(std::string_view page, std::span<const std::pair<std::string_view, std::string>> values) {
  std::string out;
  out.reserve(page.size() + 4096);
  size_t at = 0;
  while (true) {
    size_t open = page.find("{{", at);
    size_t close = open == std::string_view::npos ? open : page.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    std::string_view name = page.substr(open + 2, close - open - 2);
    auto value = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.first == name; });
    out += page.substr(at, open - at);
    if (value == values.end()) {
      out += page.substr(open, close + 2 - open);
    } else {
      out += value->second;
    }
    at = close + 2;
  }
  out += page.substr(at);
  return out;
}

std::string_view ui_file(std::string_view name) {
  for (const UiFile& f : ui_files()) {
    if (f.name == name) return f.body;
  }
  return {};
}

std::string range_options(const std::string& from) {
  static constexpr std::pair<std::string_view, std::string_view> kRanges[] = {
      {"-15m", "last 15 minutes"}, {"-1h", "last hour"}, {"-6h", "last 6 hours"},
      {"-24h", "last 24 hours"},   {"-7d", "last 7 days"}};
  std::string h;
  bool known = false;
  for (auto [value, label] : kRanges) {
    bool selected = value == from;
    known = known || selected;
    h += fmt::format("<option value=\"{}\"{}>{}</option>", value, selected ? " selected" : "", label);
  }
  if (!known) h += fmt::format("<option value=\"{}\" selected>{}</option>", html_escape(from), html_escape(from));
  return h;
}

std::string targets_table(const std::vector<TargetRow>& rows, const std::string& f) {
  if (rows.empty()) return "<p id=\"no-targets\">No samples in this range yet.</p>\n";
  std::string h =
      "<table id=\"targets\"><thead><tr><th>process</th><th>pid</th><th class=\"n\">samples</th><th class=\"n\">CPU</th>"
      "<th>last seen</th><th>profiles</th></tr></thead><tbody>\n";
  for (const TargetRow& t : rows) {
    std::string comm_query = url_encode("^" + common::regex_escape(t.comm) + "$");
    h += fmt::format(
        "<tr data-pid=\"{3}\"><td><a class=\"comm\" href=\"api/v1/flamegraph.svg?from={0}&amp;comm={1}\">{2}</a></td>"
        "<td><a class=\"pid\" href=\"api/v1/flamegraph.svg?from={0}&amp;pid={3}\">{3}</a></td>"
        "<td class=\"n\">{4}</td><td class=\"n\">{5}</td><td>{6}</td>"
        "<td><a href=\"api/v1/profile.pb.gz?from={0}&amp;pid={3}\">pprof</a> · "
        "<a href=\"api/v1/report.json?from={0}&amp;pid={3}\">top</a></td></tr>\n",
        f, comm_query, html_escape(t.comm.empty() ? "?" : t.comm), t.pid, thousands(t.samples), format_cpu(t.cpu_ns),
        html_escape(format_time(t.last_seen)));
  }
  h += "</tbody></table>\n";
  return h;
}

}  // namespace

std::string render_index_page(const IndexPage& page) {
  const DaemonStatus& st = *page.status;
  const std::string f = url_encode(page.from);
  std::string views;
  if (st.collector.off_cpu) {
    // Off-CPU time is recorded: the default view is wall time; CPU time is one click away.
    views = fmt::format(
        "<p>Views: <a id=\"wall-flamegraph\" href=\"api/v1/flamegraph.svg?from={0}&amp;sample_type=wall\">"
        "wall time</a> (on CPU, blocked, waiting for a CPU) · <a id=\"cpu-flamegraph\" "
        "href=\"api/v1/flamegraph.svg?from={0}&amp;sample_type=cpu\">CPU time</a> · <a "
        "href=\"api/v1/flamegraph.svg?from={0}&amp;sample_type=off_cpu\">off-CPU time</a></p>",
        f);
  }
  const std::pair<std::string_view, std::string> values[] = {
      {"host", html_escape(page.host)},
      {"status", fmt::format("{} · {} · {} snapshots on disk ({} MiB) · {} samples, {} lost",
                             html_escape(st.collector.targets.empty() ? "not sampling" : st.collector.targets),
                             html_escape(sampling_note(st.collector)), st.store.snapshots, st.store.bytes >> 20,
                             thousands(st.collector.stats.samples), thousands(st.collector.stats.lost_samples))},
      {"range_options", range_options(page.from)},
      {"views", std::move(views)},
      {"from", html_escape(f)},
      {"range_from", html_escape(format_time(page.range.from))},
      {"range_to", html_escape(format_time(page.range.to))},
      {"targets", targets_table(page.rows, f)},
  };
  return fill_placeholders(ui_file("index.html"), values);
}

std::optional<HttpResponse> ui_file_response(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".js", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"}};
  for (auto [extension, type] : kTypes) {
    if (!name.ends_with(extension)) continue;
    std::string_view body = ui_file(name);
    if (body.empty()) return std::nullopt;
    HttpResponse r;
    r.content_type = std::string(type);
    r.body = std::string(body);
    return r;
  }
  return std::nullopt;  // the page's template is not a file of its own
}

}  // namespace ember::daemon
