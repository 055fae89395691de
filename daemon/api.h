#pragma once
// The HTTP API, free of any HTTP library: requests in, responses out (http_server.cpp does
// the protocol). Routes:
//
//   GET /                         HTML dashboard: targets with links, time-range choice; with
//                                 its script (GET /ui/dashboard.js, /ui/dashboard.css) charts
//   GET /healthz                  JSON: ok/degraded, uptime, samples, lost, last snapshot
//   GET /metrics                  Prometheus text
//   GET /api/v1/targets           JSON: processes seen in the range, samples and latest resources each
//   GET /api/v1/flamegraph.svg    over from..to (RFC 3339, -15m, now; default the last
//   GET /api/v1/profile.pb.gz     hour), filtered by pid, comm (regex), label=key:value;
//   GET /api/v1/folded            the same merged profile in four forms
//   GET /api/v1/report.json
//   GET /api/v1/diff.svg          base_from..base_to against from..to
//   GET /api/v1/series            samples (and functions' self/total) per step, or with metric=
//                                 one process's resources per step (series_api.cpp)
//   GET /api/v1/compare           the same as `ember compare` (JSON, or format=markdown), each
//                                 snapshot one run (api_compare.cpp)
//
// Query values are validated (a bad one is a 400 naming it and why); unknown parameters are
// refused too, so that a typo is not silently ignored. Paths never name files. A query that
// reaches a limit is a 422 naming it (http.max_query_samples, http.max_query_memory,
// http.max_answer_bytes); one that
// runs past http.query_timeout, or whose client hung up, stops at its next check (503).
// Parameters: api_params.cpp; the pages: index_page.cpp, health_page.cpp, metrics_page.cpp.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "daemon/http_types.h"
#include "daemon/index_page.h"
#include "daemon/query_control.h"
#include "daemon/query_engine.h"
#include "daemon/series.h"
#include "daemon/status.h"
#include "profile/folded.h"

namespace ember::daemon {

struct ApiOptions {
  std::string host;  // the machine's name, for titles and file names
  Duration max_range = std::chrono::hours(24 * 7);
  uint64_t max_answer_bytes = uint64_t{64} << 20;  // http.max_answer_bytes
};

class Api {
 public:
  Api(QueryEngine& queries, const StatusSource& status, ApiOptions options);

  // Never throws for bad input: every problem is a 4xx answer.
  HttpResponse handle(const HttpRequest& request);
  // Paths answered on the I/O thread: they take no real CPU.
  static bool is_cheap(std::string_view path);

  void set_limits(Duration max_range, uint64_t max_answer_bytes);

 private:
  HttpResponse index(const class Params& params);
  HttpResponse metrics();
  HttpResponse targets(const class Params& params);
  HttpResponse profile_answer(std::string_view kind, const class Params& params, const QueryControl& control);
  HttpResponse render_answer(std::string_view kind, profile::Profile& profile, const TimeRange& range,
                             const SampleFilter& filter, const profile::FoldOptions& fold, int64_t top,
                             const std::optional<std::string>& title, int64_t width);
  HttpResponse diff(const class Params& params, const QueryControl& control);
  HttpResponse series(const class Params& params, const QueryControl& control);
  HttpResponse compare(const class Params& params, const QueryControl& control);
  // A 422 naming http.max_answer_bytes when `bytes` is over it.
  std::optional<HttpResponse> check_answer_size(uint64_t bytes) const;
  Duration max_range() const;

  QueryEngine& queries_;
  SeriesEngine series_;
  const StatusSource& status_;
  ApiOptions options_;
  mutable std::mutex mutex_;
};

}  // namespace ember::daemon
