#include "daemon/metrics_page.h"

#include <fmt/format.h>

#include <span>
#include <string>

#include "collector/collector_stats.h"

namespace ember::daemon {

namespace {

struct MetricInput {
  const DaemonStatus& st;
  const SelfUsage& self;
};

// One exported sample. Rows with the same name follow each other and form one family (HELP
// and TYPE written once); `labels` tells them apart. `present` leaves a row out (push metrics
// without push, process_max_fds without a limit).
struct MetricRow {
  const char* name;
  const char* type;  // "counter" or "gauge"
  const char* help;
  double (*value)(const MetricInput&);
  PrometheusText::Labels (*labels)(const MetricInput&) = nullptr;
  bool (*present)(const MetricInput&) = nullptr;
};

template <class T>
double d(T v) {
  return static_cast<double>(v);
}

PrometheusText::Labels code(const char* c) { return {{"code", c}}; }
bool push_enabled(const MetricInput& in) { return in.st.push_enabled; }
bool debuginfod_enabled(const MetricInput& in) { return in.st.debuginfod_enabled; }
PrometheusText::Labels outcome(const char* o) { return {{"outcome", o}}; }

// clang-format off
const MetricRow kMetrics[] = {
  {"emberd_build_info", "gauge", "emberd version (always 1).",
   [](const MetricInput&) { return 1.0; },
   [](const MetricInput& in) -> PrometheusText::Labels { return {{"version", in.st.version}}; }},
  {"emberd_start_time_seconds", "gauge", "When emberd started, Unix time.",
   [](const MetricInput& in) { return d(in.st.started) / 1e9; }},
  {"emberd_sampling", "gauge", "1 while sampling runs.",
   [](const MetricInput& in) { return in.st.collector.running ? 1.0 : 0.0; },
   [](const MetricInput& in) -> PrometheusText::Labels {
     return {{"event", in.st.collector.event}, {"call_graph", in.st.collector.call_graph}};
   }},
  {"emberd_sampling_frequency_hertz", "gauge", "Samples per second per CPU in effect.",
   [](const MetricInput& in) { return d(in.st.collector.frequency_hz); }},

  // The collector's own counters come from its table (add_collector_metrics below); these are
  // the daemon's view of it.
  {"emberd_live_unique_stacks", "gauge", "Distinct stacks in the live window.",
   [](const MetricInput& in) { return d(in.st.live_unique_stacks); }},
  {"emberd_live_window_bytes", "gauge", "Approximate memory of the live window.",
   [](const MetricInput& in) { return d(in.st.live_bytes); }},
  {"emberd_collector_restarts_total", "counter", "Recorders replaced by configuration reloads.",
   [](const MetricInput& in) { return d(in.st.collector.restarts); }},
  {"emberd_resource_reads_total", "counter", "Profiled processes whose resources were read at a snapshot.",
   [](const MetricInput& in) { return d(in.st.collector.resources.read); }},
  {"emberd_resource_exited_total", "counter", "Profiled processes gone before their resources could be read.",
   [](const MetricInput& in) { return d(in.st.collector.resources.exited); }},
  {"emberd_resource_io_unreadable_total", "counter", "Processes read without I/O counters (/proc/PID/io not readable).",
   [](const MetricInput& in) { return d(in.st.collector.resources.io_unreadable); }},
  {"emberd_resource_over_bound_total", "counter", "Profiled processes not read: past the busiest 256 of a snapshot.",
   [](const MetricInput& in) { return d(in.st.collector.resources.over_bound); }},

  // The store.
  {"emberd_snapshot_writes_total", "counter", "Snapshots written to disk.",
   [](const MetricInput& in) { return d(in.st.store.writes); }},
  {"emberd_snapshot_write_failures_total", "counter", "Snapshot writes that failed (kept in memory and retried).",
   [](const MetricInput& in) { return d(in.st.store.write_failures); }},
  {"emberd_snapshots_pending", "gauge", "Snapshots waiting to be written.",
   [](const MetricInput& in) { return d(in.st.store.pending); }},
  {"emberd_snapshots_pending_bytes", "gauge", "Bytes of snapshots waiting to be written.",
   [](const MetricInput& in) { return d(in.st.store.pending_bytes); }},
  {"emberd_snapshots_dropped_total", "counter", "Snapshots lost because they could not be written in time.",
   [](const MetricInput& in) { return d(in.st.store.pending_dropped); }},
  {"emberd_snapshots_deleted_total", "counter", "Snapshots deleted by retention.",
   [](const MetricInput& in) { return d(in.st.store.deleted); }},
  {"emberd_snapshots_quarantined_total", "counter", "Unreadable snapshots moved to quarantine/.",
   [](const MetricInput& in) { return d(in.st.store.quarantined); }},
  {"emberd_store_snapshots", "gauge", "Snapshots on disk.",
   [](const MetricInput& in) { return d(in.st.store.snapshots); }},
  {"emberd_store_bytes", "gauge", "Bytes of snapshots on disk.",
   [](const MetricInput& in) { return d(in.st.store.bytes); }},
  {"emberd_last_snapshot_timestamp_seconds", "gauge", "When the last snapshot was written, Unix time (0: never).",
   [](const MetricInput& in) { return d(in.st.store.last_write_time) / 1e9; }},
  {"emberd_degraded", "gauge", "1 while snapshots cannot be written.",
   [](const MetricInput& in) { return in.st.store.degraded ? 1.0 : 0.0; }},

  // Queries.
  {"emberd_query_snapshots_decoded_total", "counter", "Stored snapshots decoded for queries (cache misses).",
   [](const MetricInput& in) { return d(in.st.queries.snapshots_decoded); }},
  {"emberd_query_cache_hits_total", "counter", "Queries answered from decoded snapshots in memory.",
   [](const MetricInput& in) { return d(in.st.queries.cache_hits); }},
  {"emberd_query_cache_bytes", "gauge", "Approximate memory of decoded snapshots kept for queries.",
   [](const MetricInput& in) { return d(in.st.queries.cache_bytes); }},
  {"emberd_query_workers_busy", "gauge", "Query workers running a query now.",
   [](const MetricInput& in) { return d(in.st.http.busy_workers); }},
  {"emberd_query_workers_stuck", "gauge", "Query workers running a query past twice http.query_timeout.",
   [](const MetricInput& in) { return d(in.st.http.stuck_workers); }},
  {"emberd_query_longest_running_seconds", "gauge", "How long the longest query running now has run.",
   [](const MetricInput& in) { return in.st.http.longest_query_seconds; }},
  {"emberd_queries_cancelled_total", "counter", "Queries cancelled because the client closed the connection.",
   [](const MetricInput& in) { return d(in.st.http.cancelled_queries); }},
  {"emberd_queries_rejected_total", "counter", "Queries refused because http.max_queued_queries were waiting.",
   [](const MetricInput& in) { return d(in.st.http.rejected_queries); }},

  // The symbolizer.
  {"emberd_symbolizer_addresses_total", "counter", "Addresses symbolized.",
   [](const MetricInput& in) { return d(in.st.symbolizer.addresses); }},
  {"emberd_symbolizer_binaries_opened_total", "counter", "Binaries opened and indexed by the symbolizer.",
   [](const MetricInput& in) { return d(in.st.symbolizer.binaries_opened); }},
  {"emberd_symbolizer_cache_evictions_total", "counter", "Binaries evicted from the symbolizer cache.",
   [](const MetricInput& in) { return d(in.st.symbolizer.cache_evictions); }},

  // debuginfod (present when it is on).
  {"emberd_debuginfod_queries_total", "counter", "Debug files asked of debuginfod by outcome (skipped: asked again too soon after a miss or failure).",
   [](const MetricInput& in) { return d(in.st.debuginfod.fetched); }, [](const MetricInput&) { return outcome("fetched"); }, debuginfod_enabled},
  {"emberd_debuginfod_queries_total", "counter", "Debug files asked of debuginfod by outcome (skipped: asked again too soon after a miss or failure).",
   [](const MetricInput& in) { return d(in.st.debuginfod.missing); }, [](const MetricInput&) { return outcome("missing"); }, debuginfod_enabled},
  {"emberd_debuginfod_queries_total", "counter", "Debug files asked of debuginfod by outcome (skipped: asked again too soon after a miss or failure).",
   [](const MetricInput& in) { return d(in.st.debuginfod.failed); }, [](const MetricInput&) { return outcome("failed"); }, debuginfod_enabled},
  {"emberd_debuginfod_queries_total", "counter", "Debug files asked of debuginfod by outcome (skipped: asked again too soon after a miss or failure).",
   [](const MetricInput& in) { return d(in.st.debuginfod.skipped); }, [](const MetricInput&) { return outcome("skipped"); }, debuginfod_enabled},
  {"emberd_debuginfod_cache_evictions_total", "counter", "Files removed from the debuginfod cache to stay under its size bound.",
   [](const MetricInput& in) { return d(in.st.debuginfod.evicted); }, nullptr, debuginfod_enabled},

  // HTTP.
  {"emberd_http_connections_total", "counter", "HTTP connections accepted.",
   [](const MetricInput& in) { return d(in.st.http.connections); }},
  {"emberd_http_open_connections", "gauge", "HTTP connections open now.",
   [](const MetricInput& in) { return d(in.st.http.open_connections); }},
  {"emberd_http_rejected_connections_total", "counter", "Connections refused past http.max_connections.",
   [](const MetricInput& in) { return d(in.st.http.rejected_connections); }},
  {"emberd_http_timeouts_total", "counter", "Connections closed by a read, write or idle timeout.",
   [](const MetricInput& in) { return d(in.st.http.timeouts); }},
  {"emberd_http_unauthorized_total", "counter", "Requests without a valid bearer token.",
   [](const MetricInput& in) { return d(in.st.http.unauthorized); }},
  {"emberd_http_bad_requests_total", "counter", "Requests refused as malformed, too large, of another method or for another Host.",
   [](const MetricInput& in) { return d(in.st.http.bad_requests); }},
  {"emberd_http_responses_total", "counter", "HTTP responses by status class.",
   [](const MetricInput& in) { return d(in.st.http.responses_2xx); }, [](const MetricInput&) { return code("2xx"); }},
  {"emberd_http_responses_total", "counter", "HTTP responses by status class.",
   [](const MetricInput& in) { return d(in.st.http.responses_3xx); }, [](const MetricInput&) { return code("3xx"); }},
  {"emberd_http_responses_total", "counter", "HTTP responses by status class.",
   [](const MetricInput& in) { return d(in.st.http.responses_4xx); }, [](const MetricInput&) { return code("4xx"); }},
  {"emberd_http_responses_total", "counter", "HTTP responses by status class.",
   [](const MetricInput& in) { return d(in.st.http.responses_5xx); }, [](const MetricInput&) { return code("5xx"); }},

  // Configuration.
  {"emberd_config_reloads_total", "counter", "Configuration reloads (SIGHUP) applied.",
   [](const MetricInput& in) { return d(in.st.reloads); }},
  {"emberd_config_reload_failures_total", "counter", "Configuration reloads refused (the old configuration stays).",
   [](const MetricInput& in) { return d(in.st.reload_failures); }},

  // Push.
  {"emberd_push_sent_total", "counter", "Series pushes accepted by the push server (a snapshot is one per service).",
   [](const MetricInput& in) { return d(in.st.push.sent); }, nullptr, push_enabled},
  {"emberd_push_failures_total", "counter", "Push attempts that failed.",
   [](const MetricInput& in) { return d(in.st.push.failures); }, nullptr, push_enabled},
  {"emberd_push_tls_failures_total", "counter", "Push attempts whose TLS handshake failed (certificate or host name refused).",
   [](const MetricInput& in) { return d(in.st.push.tls_failures); }, nullptr, push_enabled},
  {"emberd_push_dropped_total", "counter", "Series pushes given up on (attempts exhausted, refused, queue full).",
   [](const MetricInput& in) { return d(in.st.push.dropped); }, nullptr, push_enabled},
  {"emberd_push_queue", "gauge", "Series pushes waiting to be sent.",
   [](const MetricInput& in) { return d(in.st.push.queued); }, nullptr, push_enabled},

  // The process, with the names and help of the Prometheus client libraries.
  {"process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
   [](const MetricInput& in) { return in.self.cpu_seconds; }},
  {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
   [](const MetricInput& in) { return d(in.self.rss_bytes); }},
  {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
   [](const MetricInput& in) { return d(in.self.virtual_bytes); }},
  {"process_open_fds", "gauge", "Number of open file descriptors.",
   [](const MetricInput& in) { return d(in.self.open_fds); }},
  {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
   [](const MetricInput& in) { return d(in.self.max_fds); }, nullptr,
   [](const MetricInput& in) { return in.self.max_fds != 0; }},
  {"process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
   [](const MetricInput& in) { return in.self.start_time_seconds; }},
  {"process_threads", "gauge", "Threads of the process.",
   [](const MetricInput& in) { return d(in.self.threads); }},
};
// clang-format on

// Every field of the collector's stats, from collector_stat_fields(): a row's own metric
// (emberd_<name>, _total for counters, unless the row names one), or its family with
// <label>="<reason>" (StatFamily::label) (written whole at the family's first row).
void add_collector_metrics(PrometheusText& m, const collector::CollectorStats& stats) {
  const auto fields = collector::collector_stat_fields();
  auto type = [](collector::StatKind kind) { return kind == collector::StatKind::kCounter ? "counter" : "gauge"; };
  for (size_t i = 0; i < fields.size(); ++i) {
    const collector::StatField& f = fields[i];
    if (f.family.empty()) {
      const std::string name = f.metric.empty()
                                   ? fmt::format("emberd_{}{}", f.name, f.kind == collector::StatKind::kCounter ? "_total" : "")
                                   : std::string(f.metric);
      m.header(name, type(f.kind), f.help);
      m.sample(name, {}, d(stats.*f.member) * f.metric_scale);
      continue;
    }
    bool first = true;
    for (size_t j = 0; j < i; ++j) first = first && fields[j].family != f.family;
    if (!first) continue;
    for (const collector::StatFamily& family : collector::collector_stat_families()) {
      if (family.metric != f.family) continue;
      m.header(family.metric, type(family.kind), family.help);
      for (size_t j = i; j < fields.size(); ++j) {
        if (fields[j].family == f.family) m.sample(family.metric, {{std::string(family.label), std::string(fields[j].reason)}}, d(stats.*fields[j].member) * fields[j].metric_scale);
      }
    }
  }
}

}  // namespace

std::string metrics_text(const DaemonStatus& status, const SelfUsage& self) {
  const MetricInput in{status, self};
  PrometheusText m;
  std::string_view family;
  for (const MetricRow& row : kMetrics) {
    if (row.present && !row.present(in)) continue;
    if (row.name != family) {
      m.header(row.name, row.type, row.help);
      family = row.name;
    }
    m.sample(row.name, row.labels ? row.labels(in) : PrometheusText::Labels{}, row.value(in));
  }
  add_collector_metrics(m, status.collector.stats);
  return m.text();
}

}  // namespace ember::daemon
