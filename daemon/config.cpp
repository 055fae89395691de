#include "daemon/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <set>

#include "common/files.h"
#include "daemon/config_reader.h"
#include "daemon/target_filter.h"

namespace ember::daemon {

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr size_t kMaxConfigBytes = size_t{1} << 20;

bool valid_label_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

bool valid_label_value(std::string_view s) {
  if (s.size() > 128) return false;
  for (char c : s) {
    // The series name is "app{k=v,...}": these would change its structure.
    if (c == ',' || c == '}' || c == '{' || c == '=' || c == '"' || static_cast<unsigned char>(c) < 0x20) {
      return false;
    }
  }
  return true;
}

// One function per section: the reads (each checks type and range), finish() (the first
// problem or an unknown key), then the checks that need several keys.

[[nodiscard]] Result<void> read_targets(ConfigSection& s, TargetConfig& t) {
  bool all = false;
  const bool has_all = s.has("all");
  s.read("all", all);
  s.read_pids("pids", t.pids, 4096);
  s.read_strings("names", t.names, 256);
  s.read_strings("cgroups", t.cgroups, 256);
  if (auto ok = s.finish(); !ok) return ok;
  const bool selectors = !t.pids.empty() || !t.names.empty() || !t.cgroups.empty();
  if (has_all && all && selectors) {
    return std::unexpected(s.invalid("all", "'all = true' cannot be combined with pids, names or cgroups; "
                                            "remove one or the other"));
  }
  if (has_all && !all && !selectors) {
    return std::unexpected(s.invalid("all", "'all = false' needs pids, names or cgroups"));
  }
  t.all = !selectors;
  for (const std::string& name : t.names) {
    if (auto ok = check_target_regex(name); !ok) return std::unexpected(s.invalid("names", ok.error().message()));
  }
  for (const std::string& cg : t.cgroups) {
    if (cg.empty() || cg.front() != '/') {
      return std::unexpected(s.invalid(
          "cgroups", fmt::format("'{}' must be an absolute cgroup path such as /system.slice/nginx.service", cg)));
    }
  }
  return {};
}

[[nodiscard]] Result<void> read_profiling(ConfigSection& s, ProfilingConfig& p) {
  std::string mode = p.call_graph == collector::CallGraphMode::kDwarf ? "dwarf" : "fp";
  uint64_t stack = p.stack_size;
  s.read_int("frequency", p.frequency_hz, 1, 10000);
  s.read("call_graph", mode);
  s.read_bytes("stack_size", stack, 1024, 65528);
  s.read("kernel_frames", p.kernel_frames);
  s.read("python", p.python);
  s.read("off_cpu", p.off_cpu);
  s.read_int("off_cpu_threshold_us", p.off_cpu_threshold_us, 0, 1'000'000'000);
  s.read_bytes("ring_bytes_per_cpu", p.ring_bytes_per_cpu, 0, uint64_t{1} << 30);
  s.read_int("max_unique_stacks", p.max_unique_stacks, 1024, 1 << 24);
  s.read_int("max_processes", p.max_processes, 64, 1 << 20);
  if (auto ok = s.finish(); !ok) return ok;
  if (mode == "dwarf") {
    p.call_graph = collector::CallGraphMode::kDwarf;
  } else if (mode == "fp") {
    p.call_graph = collector::CallGraphMode::kFramePointer;
  } else {
    return std::unexpected(s.invalid("call_graph", fmt::format("'{}' is not dwarf or fp", mode)));
  }
  if (stack % 8 != 0) return std::unexpected(s.invalid("stack_size", fmt::format("{} is not a multiple of 8", stack)));
  p.stack_size = static_cast<uint32_t>(stack);
  return {};
}

[[nodiscard]] Result<void> read_storage(ConfigSection& s, StorageConfig& st) {
  s.read("directory", st.directory);
  s.read_duration("interval", st.interval, seconds(1), hours(24));
  s.read_duration("max_age", st.max_age, minutes(1), hours(24 * 3660));
  s.read_bytes("max_bytes", st.max_bytes, uint64_t{1} << 10, uint64_t{1} << 50);
  s.read_bytes("max_pending_bytes", st.max_pending_bytes, 0, uint64_t{16} << 30);
  s.read_bytes("max_snapshot_bytes", st.max_snapshot_bytes, uint64_t{1} << 20, uint64_t{16} << 30);
  return s.finish();
}

[[nodiscard]] Result<void> read_symbolizer(ConfigSection& s, SymbolizerConfig& sy) {
  s.read_bytes("max_cache_bytes", sy.max_cache_bytes, uint64_t{1} << 20, uint64_t{64} << 30);
  s.read_int("max_cached_binaries", sy.max_cached_binaries, 1, 100000);
  s.read_int("max_perf_maps", sy.max_perf_maps, 0, 100000);
  s.read("debuginfod", sy.debuginfod);
  s.read_strings("debuginfod_urls", sy.debuginfod_urls, 16);
  s.read("debuginfod_cache_dir", sy.debuginfod_cache_dir);
  s.read_duration("debuginfod_timeout", sy.debuginfod_timeout, seconds(1), minutes(10));
  s.read_bytes("debuginfod_max_cache_bytes", sy.debuginfod_max_cache_bytes, uint64_t{1} << 20, uint64_t{1} << 44);
  if (auto ok = s.finish(); !ok) return ok;
  for (const auto& url : sy.debuginfod_urls) {
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return std::unexpected(s.invalid("debuginfod_urls", fmt::format("'{}' is not an http:// or https:// URL", url)));
    }
  }
  return {};
}

[[nodiscard]] Result<void> read_http(ConfigSection& s, HttpConfig& h) {
  s.read("listen", h.listen);
  s.read("allow_remote", h.allow_remote);
  s.read("token_file", h.token_file);
  s.read_int("max_connections", h.max_connections, 1, 100000);
  s.read_bytes("max_header_bytes", h.max_header_bytes, 1024, uint64_t{1} << 20);
  s.read_bytes("max_body_bytes", h.max_body_bytes, 0, uint64_t{1} << 20);
  s.read_duration("read_timeout", h.read_timeout, milliseconds(100), hours(1));
  s.read_duration("idle_timeout", h.idle_timeout, milliseconds(100), hours(1));
  s.read_duration("write_timeout", h.write_timeout, milliseconds(100), hours(1));
  s.read_int("query_workers", h.query_workers, 1, 64);
  s.read_int("max_queued_queries", h.max_queued_queries, 1, 10000);
  s.read_bytes("cache_bytes", h.cache_bytes, 0, uint64_t{64} << 30);
  s.read_duration("max_range", h.max_range, minutes(1), hours(24 * 3660));
  s.read_int("max_query_samples", h.max_query_samples, 1000, int64_t{1} << 32);
  s.read_bytes("max_answer_bytes", h.max_answer_bytes, uint64_t{64} << 10, uint64_t{64} << 30);
  s.read_bytes("max_query_memory", h.max_query_memory, uint64_t{64} << 10, uint64_t{64} << 30);
  s.read_duration("query_timeout", h.query_timeout, milliseconds(10), hours(1));
  if (auto ok = s.finish(); !ok) return ok;
  if (auto a = parse_listen_address(h.listen); !a) return std::unexpected(s.invalid("listen", a.error().message()));
  return {};
}

// The pairs that only make sense together, and TLS files only with an https:// URL.
[[nodiscard]] Result<void> check_push_auth(ConfigSection& s, const PushConfig& p, bool tls) {
  if (p.basic_auth_user.empty() != p.basic_auth_password_file.empty()) {
    return std::unexpected(s.invalid(p.basic_auth_user.empty() ? "basic_auth_password_file" : "basic_auth_user",
                                     "basic_auth_user and basic_auth_password_file go together"));
  }
  if (!p.basic_auth_user.empty() && !p.token_file.empty()) {
    return std::unexpected(s.invalid("token_file", "set either token_file (bearer) or basic_auth_*, not both"));
  }
  if (p.basic_auth_user.find(':') != std::string::npos ||
      std::ranges::any_of(p.basic_auth_user, [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    return std::unexpected(s.invalid("basic_auth_user", "may not contain ':' or control characters"));
  }
  if (p.cert_file.empty() != p.key_file.empty()) {
    return std::unexpected(s.invalid(p.cert_file.empty() ? "key_file" : "cert_file", "cert_file and key_file go together"));
  }
  if (!tls && !p.url.empty()) {
    const std::pair<const char*, const std::string*> files[] = {
        {"ca_file", &p.ca_file}, {"cert_file", &p.cert_file}, {"key_file", &p.key_file}};
    for (const auto& [key, value] : files) {
      if (!value->empty()) return std::unexpected(s.invalid(key, "needs an https:// push.url"));
    }
  }
  return {};
}

[[nodiscard]] Result<void> read_push(ConfigSection& s, PushConfig& p) {
  s.read("url", p.url);
  s.read("app_name", p.app_name);
  s.read("series", p.series);
  s.read_int("max_series", p.max_series, 1, 10000);
  s.read_string_map("labels", p.labels, 32);
  s.read("token_file", p.token_file);
  s.read("basic_auth_user", p.basic_auth_user);
  s.read("basic_auth_password_file", p.basic_auth_password_file);
  s.read("tenant_id", p.tenant_id);
  s.read("ca_file", p.ca_file);
  s.read("cert_file", p.cert_file);
  s.read("key_file", p.key_file);
  s.read_duration("timeout", p.timeout, milliseconds(100), minutes(10));
  s.read_int("max_queue", p.max_queue, 1, 10000);
  s.read_int("max_attempts", p.max_attempts, 1, 1000);
  s.read_duration("initial_backoff", p.initial_backoff, milliseconds(10), hours(1));
  s.read_duration("max_backoff", p.max_backoff, milliseconds(10), hours(24));
  if (auto ok = s.finish(); !ok) return ok;
  bool tls = false;
  if (!p.url.empty()) {
    auto u = parse_push_url(p.url);
    if (!u) return std::unexpected(s.invalid("url", u.error().message()));
    tls = u->tls;
  }
  if (auto ok = check_push_auth(s, p, tls); !ok) return ok;
  if (!valid_label_name(p.app_name)) {
    return std::unexpected(
        s.invalid("app_name", fmt::format("'{}' must be 1-64 letters, digits, '_', '.' or '-'", p.app_name)));
  }
  if (p.series != "service" && p.series != "host") {
    return std::unexpected(s.invalid("series", fmt::format("'{}' is neither \"service\" nor \"host\"", p.series)));
  }
  for (const auto& [k, v] : p.labels) {
    if (!valid_label_name(k) || !valid_label_value(v) || k == "host" || k == "service_name") {
      return std::unexpected(s.invalid(
          "labels", fmt::format("'{}' = '{}' is not a valid label (names: letters, digits, '_', '.', '-'; values "
                                "without , {{ }} = \"; 'host' and 'service_name' are set by emberd)",
                                k, v)));
    }
  }
  if (p.max_backoff < p.initial_backoff) {
    return std::unexpected(s.invalid("max_backoff", "shorter than push.initial_backoff"));
  }
  return {};
}

[[nodiscard]] Result<void> read_log(ConfigSection& s, std::string& level) {
  s.read("level", level);
  if (auto ok = s.finish(); !ok) return ok;
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!kLevels.contains(level)) {
    return std::unexpected(
        s.invalid("level", fmt::format("'{}' is not one of trace, debug, info, warn, error, critical, off", level)));
  }
  return {};
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return make_error(ErrorCode::kMalformed, fmt::format("{}:{}:{}: not valid TOML: {}", source, where.line,
                                                         where.column, e.description()));
  }
  Config c;
  c.source = std::string(source);
  // Every section: its name and the function that reads it.
  const std::pair<std::string_view, std::function<Result<void>(ConfigSection&)>> sections[] = {
      {"targets", [&](ConfigSection& s) { return read_targets(s, c.targets); }},
      {"profiling", [&](ConfigSection& s) { return read_profiling(s, c.profiling); }},
      {"storage", [&](ConfigSection& s) { return read_storage(s, c.storage); }},
      {"symbolizer", [&](ConfigSection& s) { return read_symbolizer(s, c.symbolizer); }},
      {"http", [&](ConfigSection& s) { return read_http(s, c.http); }},
      {"push", [&](ConfigSection& s) { return read_push(s, c.push); }},
      {"log", [&](ConfigSection& s) { return read_log(s, c.log_level); }},
  };
  for (auto&& [k, v] : root) {
    const bool known = std::any_of(std::begin(sections), std::end(sections),
                                   [&](const auto& section) { return section.first == k.str(); });
    if (!known || !v.is_table()) {
      std::string names;
      for (const auto& section : sections) names += fmt::format("{}{}", names.empty() ? "" : ", ", section.first);
      const auto& where = v.source().begin;
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}:{}:{}: '{}' is not a section of the configuration (sections: {})", source,
                                    where.line, where.column, k.str(), names));
    }
  }
  for (const auto& [name, read] : sections) {
    ConfigSection s(root.get_as<toml::table>(name), std::string(name), source);
    if (auto ok = read(s); !ok) return std::unexpected(ok.error());
  }
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  auto text = common::read_file(path, kMaxConfigBytes);
  if (!text) return std::unexpected(text.error());
  if (text->find('\0') != std::string::npos) {
    return make_error(ErrorCode::kMalformed, path + ": not a text file (contains NUL bytes)");
  }
  return parse_config(*text, path);
}

Result<Config> load_default_config() { return parse_config(default_config_text(), "<embedded default>"); }

namespace {
std::string default_data_directory() {
  // systemd's StateDirectory= sets it (several directories are separated by ':').
  if (const char* state = std::getenv("STATE_DIRECTORY"); state && *state) {
    std::string_view s(state);
    return std::string(s.substr(0, s.find(':')));
  }
  return "./var/ember";
}
}  // namespace

Result<void> finish_config(Config& c, const Overrides& o) {
  if (o.listen) {
    if (auto a = parse_listen_address(*o.listen); !a) {
      return make_error(ErrorCode::kInvalidArgument, "--listen: " + a.error().message());
    }
    c.http.listen = *o.listen;
  }
  if (o.data_dir) {
    if (o.data_dir->empty()) return make_error(ErrorCode::kInvalidArgument, "--data-dir: empty path");
    c.storage.directory = *o.data_dir;
  }
  if (o.interval) {
    if (*o.interval < std::chrono::seconds(1) || *o.interval > std::chrono::hours(24)) {
      return make_error(ErrorCode::kInvalidArgument, "--interval: must be between 1s and 24h");
    }
    c.storage.interval = *o.interval;
  }
  if (o.frequency_hz) {
    if (*o.frequency_hz < 1 || *o.frequency_hz > 10000) {
      return make_error(ErrorCode::kInvalidArgument, "--frequency: must be between 1 and 10000 Hz");
    }
    c.profiling.frequency_hz = *o.frequency_hz;
  }
  if (c.storage.directory.empty()) c.storage.directory = default_data_directory();

  auto listen = parse_listen_address(c.http.listen);
  if (!listen) return std::unexpected(listen.error());
  if (!listen->loopback) {
    if (!c.http.allow_remote) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: http.listen = \"{}\" is not a loopback address: profiles show "
                                    "what every process on this host runs, so serving them to the "
                                    "network needs http.allow_remote = true and http.token_file",
                                    c.source, c.http.listen));
    }
    if (c.http.token_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: http.allow_remote needs http.token_file (a file holding the "
                                    "bearer token clients must send)",
                                    c.source));
    }
  }
  return {};
}

}  // namespace ember::daemon
