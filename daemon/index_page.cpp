#include "daemon/index_page.h"

#include <fmt/format.h>

#include "common/regex.h"
#include "common/text.h"
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

std::string render_index_page(const IndexPage& page) {
  static constexpr std::pair<std::string_view, std::string_view> kRanges[] = {
      {"-15m", "last 15 minutes"}, {"-1h", "last hour"}, {"-6h", "last 6 hours"},
      {"-24h", "last 24 hours"},   {"-7d", "last 7 days"}};
  const DaemonStatus& st = *page.status;
  const std::string& from = page.from;
  const std::vector<TargetRow>& rows = page.rows;
  const TimeRange* range = &page.range;
  const std::string f = url_encode(from);

  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<link rel=\"icon\" href=\"data:,\">\n";
  h += fmt::format("<title>emberd · {}</title>\n", html_escape(page.host));
  h += "<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
       "table{border-collapse:collapse}td,th{padding:.25em .8em;text-align:left;border-bottom:1px solid #ddd}"
       "td.n{text-align:right;font-variant-numeric:tabular-nums}a{color:#b3261e}"
       ".muted{color:#666}form{margin:1em 0}</style>\n</head><body>\n";
  h += fmt::format("<h1>emberd · {}</h1>\n", html_escape(page.host));
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
      "<a href=\"/api/v1/folded?from={0}\">folded</a> · "
      "<a href=\"/api/v1/speedscope.json?from={0}\">speedscope (timeline per thread)</a></p>\n",
      f);
  h += fmt::format("<h2>Processes, {} to {}</h2>\n", html_escape(format_time(range->from)), html_escape(format_time(range->to)));
  if (rows.empty()) {
    h += "<p id=\"no-targets\">No samples in this range yet.</p>\n";
  } else {
    h += "<table id=\"targets\"><thead><tr><th>process</th><th>pid</th><th>samples</th><th>CPU</th>"
         "<th>last seen</th><th>profiles</th></tr></thead><tbody>\n";
    for (const TargetRow& t : rows) {
      std::string comm_query = url_encode("^" + common::regex_escape(t.comm) + "$");
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
  return h;
}

}  // namespace ember::daemon
