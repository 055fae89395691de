#pragma once
// GET /: the dashboard. Its HTML is ui/index.html with the parts emberd knows filled in (the
// processes seen in the time range with links to their flamegraphs and profiles, the range
// choice, the status line): a page that works without script. ui/dashboard.js (GET
// /ui/dashboard.js) adds the charts over the API. Every name in it is data (escaped), never markup.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"
#include "daemon/http_types.h"
#include "daemon/query_engine.h"
#include "daemon/status.h"

namespace ember::daemon {

struct IndexPage {
  std::string host;
  std::string from;  // the range as asked ("-1h"), kept in the links
  TimeRange range;
  const DaemonStatus* status = nullptr;
  std::vector<TargetRow> rows;
};

std::string render_index_page(const IndexPage& page);
// GET /ui/NAME: the page's script and style (dashboard.js, dashboard.css); nullopt for any other name.
std::optional<HttpResponse> ui_file_response(std::string_view name);

// The Content-Security-Policy of the page: its own script and style only (no inline script),
// requests to emberd only, frames (the flamegraph) from emberd only, no remote anything.
inline constexpr std::string_view kIndexPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// The page's escaping and number form: common/text.h's, one for the whole project.
std::string html_escape(std::string_view text);
using common::thousands;
// "cpu-clock at 99 Hz, DWARF stacks", or "" before sampling started.
std::string sampling_note(const CollectorStatus& collector);

}  // namespace ember::daemon
