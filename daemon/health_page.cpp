#include "daemon/health_page.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ember::daemon {

HttpResponse health_response(const DaemonStatus& st, UnixNanos now) {
  std::vector<std::string> reasons;
  if (!st.collector.running) reasons.push_back("sampling is not running");
  if (st.store.degraded) reasons.push_back("snapshots cannot be written: " + st.store.last_error);
  if (st.push_enabled && st.push.failing) reasons.push_back("push failing: " + st.push.last_error);
  if (st.http.stuck_workers > 0) {
    // Its query no longer checks its deadline: every other query waits behind it.
    reasons.push_back(fmt::format("{} query worker(s) stuck past twice http.query_timeout: {}", st.http.stuck_workers,
                                  st.http.stuck_query));
  }
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
  j["queries"] = {{"busy_workers", st.http.busy_workers},
                  {"stuck_workers", st.http.stuck_workers},
                  {"longest_running_seconds", st.http.longest_query_seconds}};
  HttpResponse r;
  r.content_type = "application/json";
  r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // Degraded still serves: only a daemon that does not sample at all is unhealthy.
  r.status = st.collector.running ? 200 : 503;
  return r;
}

}  // namespace ember::daemon
