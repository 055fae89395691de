#pragma once
// emberd's configuration: a TOML file (toml++), the embedded default (daemon/emberd.toml, the
// same file the package installs as /etc/ember/emberd.toml), and command-line overrides.
// Every key and its default is documented in daemon/emberd.toml.

#include <cstddef>
#include <cstdint>
#include <map>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/call_graph.h"
#include "common/error.h"
#include "daemon/address.h"
#include "daemon/units.h"

namespace ember::daemon {

struct TargetConfig {
  // Every process on the host (one event per CPU). False when any selector below is given.
  bool all = true;
  std::vector<int32_t> pids;
  std::vector<std::string> names;    // RE2 regexes, searched in comm and in the exe path
  std::vector<std::string> cgroups;  // cgroup paths; a process in the cgroup or below it matches
  bool operator==(const TargetConfig&) const = default;
};

struct ProfilingConfig {
  uint32_t frequency_hz = 99;
  collector::CallGraphMode call_graph = collector::CallGraphMode::kDwarf;
  uint32_t stack_size = 16384;  // bytes of user stack copied per sample (DWARF)
  bool kernel_frames = true;
  bool python = true;  // Python frames in the stacks of CPython processes
  // Off-CPU and wall time (context-switch events, see collector/off_cpu_stacks.h); off by default.
  bool off_cpu = false;
  uint64_t off_cpu_threshold_us = 100;
  uint64_t ring_bytes_per_cpu = 0;  // 0: the collector's choice for the call-graph mode
  uint64_t max_unique_stacks = 65536;
  uint64_t max_processes = 8192;
  bool operator==(const ProfilingConfig&) const = default;
};

struct StorageConfig {
  std::string directory;  // resolved: never empty after load
  Duration interval = std::chrono::seconds(60);
  Duration max_age = std::chrono::hours(24 * 7);
  uint64_t max_bytes = uint64_t{1} << 30;
  uint64_t max_pending_bytes = uint64_t{16} << 20;  // encoded snapshots waiting for the disk
  uint64_t max_snapshot_bytes = uint64_t{32} << 20;  // decompressed; larger files are refused
};

struct SymbolizerConfig {
  uint64_t max_cache_bytes = uint64_t{8} << 20;
  uint64_t max_cached_binaries = 16;
  uint64_t max_perf_maps = 16;
  // Debug files by build-id for binaries without symbols or DWARF on the host.
  bool debuginfod = true;
  std::vector<std::string> debuginfod_urls;  // empty: $DEBUGINFOD_URLS (still empty: off)
  std::string debuginfod_cache_dir;          // empty: <storage.directory>/debuginfod
  Duration debuginfod_timeout = std::chrono::seconds(10);
  uint64_t debuginfod_max_cache_bytes = uint64_t{1} << 30;
  bool operator==(const SymbolizerConfig&) const = default;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:7070";  // "HOST:PORT", "[::1]:PORT" or "unix:/path"
  bool allow_remote = false;
  std::string token_file;  // bearer token; required with allow_remote
  uint64_t max_connections = 64;
  uint64_t max_header_bytes = 8192;
  uint64_t max_body_bytes = 4096;
  Duration read_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(30);
  Duration write_timeout = std::chrono::seconds(60);
  uint64_t query_workers = 1;
  uint64_t max_queued_queries = 16;
  uint64_t cache_bytes = uint64_t{32} << 20;  // decoded snapshots kept for repeated queries
  Duration max_range = std::chrono::hours(24 * 7);
  uint64_t max_query_samples = 250'000;  // unique samples in one merged answer
  uint64_t max_answer_bytes = uint64_t{64} << 20;   // the body of one answer
  uint64_t max_query_memory = uint64_t{256} << 20;  // the merged profile an answer is built from
  Duration query_timeout = std::chrono::seconds(10);  // a worker's time for one query
};

struct PushConfig {
  std::string url;  // empty: no push. "http(s)://host:4040" (Pyroscope /ingest)
  std::string app_name = "emberd";  // the series name when series = "host"
  // "service": one series per service (Pyroscope's service_name: the process's systemd service,
  // else its name), the busiest max_series of each snapshot, the rest together as "other".
  // "host": the whole host as one series named app_name.
  std::string series = "service";
  uint64_t max_series = 100;
  std::map<std::string, std::string> labels;  // added to the series name, with host=
  std::string token_file;  // optional bearer token
  std::string basic_auth_user;           // HTTP basic (Grafana Cloud: the stack's user id)
  std::string basic_auth_password_file;  // its password (Grafana Cloud: an access token)
  std::string tenant_id;   // X-Scope-OrgID for multi-tenant Pyroscope
  // TLS (https:// only): the system's CA store unless ca_file; a client certificate for mTLS.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  Duration timeout = std::chrono::seconds(10);
  uint64_t max_queue = 32;  // snapshots waiting to be sent; the oldest is dropped past it
  uint64_t max_attempts = 5;
  Duration initial_backoff = std::chrono::seconds(1);
  Duration max_backoff = std::chrono::seconds(60);
  bool enabled() const { return !url.empty(); }
  bool operator==(const PushConfig&) const = default;
};

struct Config {
  std::string source;  // the file it came from, or "<embedded default>"
  TargetConfig targets;
  ProfilingConfig profiling;
  StorageConfig storage;
  SymbolizerConfig symbolizer;
  HttpConfig http;
  PushConfig push;
  std::string log_level = "info";
};

// What the command line sets; applied after the file, at start-up and at every reload.
struct Overrides {
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  std::optional<Duration> interval;
  std::optional<uint32_t> frequency_hz;
};

// The embedded default configuration text (daemon/emberd.toml).
std::string_view default_config_text();

// Parses and validates TOML text. `source` names the file in errors: one line,
// "/etc/ember/emberd.toml:12:3: storage.interval: invalid duration 'x' (...)".
[[nodiscard]] Result<Config> parse_config(std::string_view text, std::string_view source);
// Reads FILE (at most 1 MiB, a regular file) and parses it.
[[nodiscard]] Result<Config> load_config_file(const std::string& path);
// The embedded default.
[[nodiscard]] Result<Config> load_default_config();

// Applies overrides, resolves the data directory (empty: $STATE_DIRECTORY, else ./var/ember)
// and checks what depends on both (a non-loopback listen address needs allow_remote and a
// token file).
[[nodiscard]] Result<void> finish_config(Config& config, const Overrides& overrides);

// The effective configuration as TOML that parse_config accepts again (config_format.cpp).
std::string format_config(const Config& config);

}  // namespace ember::daemon
