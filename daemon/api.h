#pragma once
// The HTTP API, free of any HTTP library: requests in, responses out (http_server.cpp does
// the protocol). Routes:
//
//   GET /                         HTML index: targets with links, time-range choice
//   GET /healthz                  JSON: ok/degraded, uptime, samples, lost, last snapshot
//   GET /metrics                  Prometheus text
//   GET /api/v1/targets           JSON: processes seen in the range, samples each
//   GET /api/v1/flamegraph.svg    over from..to (RFC 3339, -15m, now; default the last
//   GET /api/v1/profile.pb.gz     hour), filtered by pid, comm (regex), label=key:value;
//   GET /api/v1/folded            the same merged profile in four forms
//   GET /api/v1/report.json
//   GET /api/v1/diff.svg          base_from..base_to against from..to
//
// Query values are validated (a bad one is a 400 naming it and why); unknown parameters are
// refused too, so that a typo is not silently ignored. Paths never name files.

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "daemon/http_types.h"
#include "daemon/query_engine.h"
#include "daemon/status.h"

namespace ember::daemon {

struct ApiOptions {
  std::string host;  // the machine's name, for titles and file names
  Duration max_range = std::chrono::hours(24 * 7);
};

class Api {
 public:
  Api(QueryEngine& queries, const StatusSource& status, ApiOptions options);

  // Never throws for bad input: every problem is a 4xx answer.
  HttpResponse handle(const HttpRequest& request);
  // Paths answered on the I/O thread: they take no real CPU.
  static bool is_cheap(std::string_view path);

  void set_max_range(Duration max_range);

 private:
  HttpResponse index(const class Params& params);
  HttpResponse healthz();
  HttpResponse metrics();
  HttpResponse targets(const class Params& params);
  HttpResponse profile_answer(std::string_view kind, const class Params& params);
  HttpResponse diff(const class Params& params);

  QueryEngine& queries_;
  const StatusSource& status_;
  ApiOptions options_;
  std::mutex mutex_;
};

std::string html_escape(std::string_view text);

}  // namespace ember::daemon
