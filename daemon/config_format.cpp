// The effective configuration (emberd --print-config) as TOML, written by toml++ so that
// quoting and escaping are the library's, not ours.

#include <sstream>
#include <toml++/toml.h>

#include "daemon/config.h"

namespace ember::daemon {

namespace {

toml::array string_array(const std::vector<std::string>& values) {
  toml::array a;
  for (const std::string& v : values) a.push_back(v);
  return a;
}

std::string duration(Duration d) { return format_duration(d); }
std::string bytes(uint64_t b) { return format_bytes(b); }
int64_t integer(uint64_t v) { return static_cast<int64_t>(v); }

toml::table targets_table(const TargetConfig& t) {
  if (t.all) return toml::table{{"all", true}};
  toml::array pids;
  for (int32_t pid : t.pids) pids.push_back(int64_t{pid});
  return toml::table{{"pids", pids}, {"names", string_array(t.names)}, {"cgroups", string_array(t.cgroups)}};
}

toml::table profiling_table(const ProfilingConfig& p) {
  toml::table t{
      {"frequency", integer(p.frequency_hz)},
      {"call_graph", p.call_graph == collector::CallGraphMode::kDwarf ? "dwarf" : "fp"},
      {"stack_size", integer(p.stack_size)},
      {"kernel_frames", p.kernel_frames},
      {"python", p.python},
      {"off_cpu", p.off_cpu},
      {"off_cpu_threshold_us", integer(p.off_cpu_threshold_us)},
      {"max_unique_stacks", integer(p.max_unique_stacks)},
      {"max_processes", integer(p.max_processes)},
  };
  // 0 means "the collector's choice": written as a number, not as "0B".
  if (p.ring_bytes_per_cpu == 0) {
    t.insert("ring_bytes_per_cpu", int64_t{0});
  } else {
    t.insert("ring_bytes_per_cpu", bytes(p.ring_bytes_per_cpu));
  }
  return t;
}

toml::table storage_table(const StorageConfig& s) {
  return toml::table{
      {"directory", s.directory},
      {"interval", duration(s.interval)},
      {"max_age", duration(s.max_age)},
      {"max_bytes", bytes(s.max_bytes)},
      {"max_pending_bytes", bytes(s.max_pending_bytes)},
      {"max_snapshot_bytes", bytes(s.max_snapshot_bytes)},
  };
}

toml::table symbolizer_table(const SymbolizerConfig& s) {
  return toml::table{
      {"max_cache_bytes", bytes(s.max_cache_bytes)},
      {"max_cached_binaries", integer(s.max_cached_binaries)},
      {"max_perf_maps", integer(s.max_perf_maps)},
      {"debuginfod", s.debuginfod},
      {"debuginfod_urls", string_array(s.debuginfod_urls)},
      {"debuginfod_cache_dir", s.debuginfod_cache_dir},
      {"debuginfod_timeout", duration(s.debuginfod_timeout)},
      {"debuginfod_max_cache_bytes", bytes(s.debuginfod_max_cache_bytes)},
  };
}

toml::table http_table(const HttpConfig& h) {
  return toml::table{
      {"listen", h.listen},
      {"allow_remote", h.allow_remote},
      {"token_file", h.token_file},
      {"max_connections", integer(h.max_connections)},
      {"max_header_bytes", bytes(h.max_header_bytes)},
      {"max_body_bytes", bytes(h.max_body_bytes)},
      {"read_timeout", duration(h.read_timeout)},
      {"idle_timeout", duration(h.idle_timeout)},
      {"write_timeout", duration(h.write_timeout)},
      {"query_workers", integer(h.query_workers)},
      {"max_queued_queries", integer(h.max_queued_queries)},
      {"cache_bytes", bytes(h.cache_bytes)},
      {"max_range", duration(h.max_range)},
      {"max_query_samples", integer(h.max_query_samples)},
      {"max_answer_bytes", bytes(h.max_answer_bytes)},
      {"max_query_memory", bytes(h.max_query_memory)},
      {"query_timeout", duration(h.query_timeout)},
  };
}

toml::table push_table(const PushConfig& p) {
  toml::table labels;
  for (const auto& [k, v] : p.labels) labels.insert(k, v);
  labels.is_inline(true);
  return toml::table{
      {"url", p.url},
      {"app_name", p.app_name},
      {"series", p.series},
      {"max_series", integer(p.max_series)},
      {"labels", labels},
      {"token_file", p.token_file},
      {"basic_auth_user", p.basic_auth_user},
      {"basic_auth_password_file", p.basic_auth_password_file},
      {"tenant_id", p.tenant_id},
      {"ca_file", p.ca_file},
      {"cert_file", p.cert_file},
      {"key_file", p.key_file},
      {"timeout", duration(p.timeout)},
      {"max_queue", integer(p.max_queue)},
      {"max_attempts", integer(p.max_attempts)},
      {"initial_backoff", duration(p.initial_backoff)},
      {"max_backoff", duration(p.max_backoff)},
  };
}

}  // namespace

std::string format_config(const Config& c) {
  toml::table root{
      {"targets", targets_table(c.targets)},       {"profiling", profiling_table(c.profiling)},
      {"storage", storage_table(c.storage)},       {"symbolizer", symbolizer_table(c.symbolizer)},
      {"http", http_table(c.http)},                {"push", push_table(c.push)},
      {"log", toml::table{{"level", c.log_level}}},
  };
  // The source is a path: anything that would end the comment line is shown as '?'.
  std::string source = c.source;
  for (char& ch : source) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  }
  std::ostringstream out;
  // Basic "..." strings only, as the documented configuration writes them.
  constexpr auto kFlags = toml::toml_formatter::default_flags & ~toml::format_flags::allow_literal_strings &
                          ~toml::format_flags::allow_multi_line_strings;
  out << "# emberd: effective configuration (from " << source << ")\n\n" << toml::toml_formatter(root, kFlags)
      << "\n";
  return out.str();
}

}  // namespace ember::daemon
