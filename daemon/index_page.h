#pragma once
// GET /: the HTML index, a table of the processes seen in a time range with links to their
// flamegraphs and profiles. Every name in it is data (escaped), never markup.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"
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

// The Content-Security-Policy of the page: no script, no remote anything.
inline constexpr std::string_view kIndexPagePolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

// The page's escaping and number form: common/text.h's, one for the whole project.
std::string html_escape(std::string_view text);
using common::thousands;
// "cpu-clock at 99 Hz, DWARF stacks", or "" before sampling started.
std::string sampling_note(const CollectorStatus& collector);

}  // namespace ember::daemon
