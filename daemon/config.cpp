#include "daemon/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <toml++/toml.h>

#include "common/files.h"
#include "daemon/target_filter.h"

namespace ember::daemon {

namespace {

constexpr size_t kMaxConfigBytes = size_t{1} << 20;

// Reads one table, remembering which keys were used so that the rest can be reported: a typo
// ("intervall") must be an error, not a silently ignored setting.
class Section {
 public:
  Section(const toml::table* table, std::string name, std::string_view source)
      : table_(table), name_(std::move(name)), source_(source) {}

  // Each getter leaves `out` alone when the key is absent.
  Result<void> get(std::string_view key, bool& out) {
    const toml::node* n = find(key);
    if (!n) return {};
    if (!n->is_boolean()) return type_error(key, *n, "true or false");
    out = n->as_boolean()->get();
    return {};
  }
  Result<void> get(std::string_view key, std::string& out) {
    const toml::node* n = find(key);
    if (!n) return {};
    if (!n->is_string()) return type_error(key, *n, "a string");
    out = n->as_string()->get();
    return {};
  }
  template <class Int>
  Result<void> get_int(std::string_view key, Int& out, int64_t min, int64_t max) {
    const toml::node* n = find(key);
    if (!n) return {};
    if (!n->is_integer()) return type_error(key, *n, "a whole number");
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      return error_at(*n, key, fmt::format("{} is out of range ({} to {})", v, min, max));
    }
    out = static_cast<Int>(v);
    return {};
  }
  Result<void> get_duration(std::string_view key, Duration& out, Duration min, Duration max) {
    const toml::node* n = find(key);
    if (!n) return {};
    if (!n->is_string()) return type_error(key, *n, "a duration string such as \"60s\"");
    auto d = parse_duration(n->as_string()->get());
    if (!d) return error_at(*n, key, d.error().message());
    if (*d < min || *d > max) {
      return error_at(*n, key, fmt::format("{} is out of range ({} to {})", format_duration(*d),
                                           format_duration(min), format_duration(max)));
    }
    out = *d;
    return {};
  }
  Result<void> get_bytes(std::string_view key, uint64_t& out, uint64_t min, uint64_t max) {
    const toml::node* n = find(key);
    if (!n) return {};
    Result<uint64_t> v = n->is_integer() && n->as_integer()->get() >= 0
                             ? Result<uint64_t>(static_cast<uint64_t>(n->as_integer()->get()))
                         : n->is_string() ? parse_bytes(n->as_string()->get())
                                          : Result<uint64_t>(std::unexpected(Error(
                                                ErrorCode::kInvalidArgument,
                                                "expected a size such as \"64MiB\"")));
    if (!v) return error_at(*n, key, v.error().message());
    if (*v < min || *v > max) {
      return error_at(*n, key, fmt::format("{} is out of range ({} to {})", format_bytes(*v),
                                           format_bytes(min), format_bytes(max)));
    }
    out = *v;
    return {};
  }
  Result<void> get_strings(std::string_view key, std::vector<std::string>& out, size_t max_items) {
    const toml::node* n = find(key);
    if (!n) return {};
    const toml::array* a = n->as_array();
    if (!a) return type_error(key, *n, "an array of strings");
    if (a->size() > max_items) return error_at(*n, key, fmt::format("more than {} entries", max_items));
    out.clear();
    for (const toml::node& item : *a) {
      if (!item.is_string()) return type_error(key, item, "an array of strings");
      out.push_back(item.as_string()->get());
    }
    return {};
  }
  Result<void> get_ints(std::string_view key, std::vector<int32_t>& out, size_t max_items) {
    const toml::node* n = find(key);
    if (!n) return {};
    const toml::array* a = n->as_array();
    if (!a) return type_error(key, *n, "an array of process IDs");
    if (a->size() > max_items) return error_at(*n, key, fmt::format("more than {} entries", max_items));
    out.clear();
    for (const toml::node& item : *a) {
      if (!item.is_integer() || item.as_integer()->get() <= 0 || item.as_integer()->get() > INT32_MAX) {
        return type_error(key, item, "an array of process IDs (positive whole numbers)");
      }
      out.push_back(static_cast<int32_t>(item.as_integer()->get()));
    }
    return {};
  }
  // A table of string values (push.labels).
  Result<void> get_string_map(std::string_view key, std::map<std::string, std::string>& out,
                              size_t max_items) {
    const toml::node* n = find(key);
    if (!n) return {};
    const toml::table* t = n->as_table();
    if (!t) return type_error(key, *n, "a table of strings");
    if (t->size() > max_items) return error_at(*n, key, fmt::format("more than {} entries", max_items));
    out.clear();
    for (auto&& [k, v] : *t) {
      if (!v.is_string()) return type_error(key, v, "a table of strings");
      out[std::string(k.str())] = v.as_string()->get();
    }
    return {};
  }

  // Keys nobody asked for.
  Result<void> check_unknown() const {
    if (!table_) return {};
    for (auto&& [k, v] : *table_) {
      if (!used_.contains(std::string(k.str()))) {
        return error_at(v, k.str(), "unknown key (see the default configuration for the valid keys)");
      }
    }
    return {};
  }

  std::unexpected<Error> error_at(const toml::node& n, std::string_view key, std::string_view what) const {
    const auto& where = n.source().begin;
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}:{}:{}: {}{}{}: {}", source_, where.line, where.column, name_,
                                  name_.empty() ? "" : ".", key, what));
  }

 private:
  const toml::node* find(std::string_view key) {
    if (!table_) return nullptr;
    used_.insert(std::string(key));
    return table_->get(key);
  }
  std::unexpected<Error> type_error(std::string_view key, const toml::node& n, std::string_view expected) const {
    return error_at(n, key, fmt::format("expected {}", expected));
  }

  const toml::table* table_;
  std::string name_;
  std::string_view source_;
  std::set<std::string> used_;
};

#define EMBER_TRY(expr)                                   \
  do {                                                    \
    if (auto ember_try_result = (expr); !ember_try_result) \
      return std::unexpected(ember_try_result.error());   \
  } while (0)

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

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

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(source));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}:{}:{}: not valid TOML: {}", source, where.line, where.column,
                                  e.description()));
  }

  Config c;
  c.source = std::string(source);
  std::set<std::string> sections = {"targets", "profiling", "storage", "symbolizer", "http", "push", "log"};
  for (auto&& [k, v] : root) {
    if (!sections.contains(std::string(k.str())) || !v.is_table()) {
      const auto& where = v.source().begin;
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}:{}:{}: '{}' is not a section of the configuration (sections: "
                                    "targets, profiling, storage, symbolizer, http, push, log)",
                                    source, where.line, where.column, k.str()));
    }
  }
  auto table = [&](const char* name) { return root.get_as<toml::table>(name); };

  {
    Section s(table("targets"), "targets", source);
    std::optional<bool> all;
    bool all_value = false;
    const toml::table* t = table("targets");
    bool has_all = t && t->contains("all");
    EMBER_TRY(s.get("all", all_value));
    if (has_all) all = all_value;
    EMBER_TRY(s.get_ints("pids", c.targets.pids, 4096));
    EMBER_TRY(s.get_strings("names", c.targets.names, 256));
    EMBER_TRY(s.get_strings("cgroups", c.targets.cgroups, 256));
    EMBER_TRY(s.check_unknown());
    bool selectors = !c.targets.pids.empty() || !c.targets.names.empty() || !c.targets.cgroups.empty();
    if (all.value_or(false) && selectors) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: targets: 'all = true' cannot be combined with pids, names or "
                                    "cgroups; remove one or the other",
                                    source));
    }
    if (all.has_value() && !*all && !selectors) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: targets: 'all = false' needs pids, names or cgroups", source));
    }
    c.targets.all = !selectors;
    for (const std::string& name : c.targets.names) {
      if (auto ok = check_target_regex(name); !ok) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: targets.names: {}", source, ok.error().message()));
      }
    }
    for (const std::string& cg : c.targets.cgroups) {
      if (cg.empty() || cg.front() != '/') {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: targets.cgroups: '{}' must be an absolute cgroup path such "
                                      "as /system.slice/nginx.service",
                                      source, cg));
      }
    }
  }
  {
    Section s(table("profiling"), "profiling", source);
    auto& p = c.profiling;
    EMBER_TRY(s.get_int("frequency", p.frequency_hz, 1, 10000));
    std::string mode = p.call_graph == collector::CallGraphMode::kDwarf ? "dwarf" : "fp";
    EMBER_TRY(s.get("call_graph", mode));
    if (mode == "dwarf") {
      p.call_graph = collector::CallGraphMode::kDwarf;
    } else if (mode == "fp") {
      p.call_graph = collector::CallGraphMode::kFramePointer;
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: profiling.call_graph: '{}' is not dwarf or fp", source, mode));
    }
    uint64_t stack = p.stack_size;
    EMBER_TRY(s.get_bytes("stack_size", stack, 1024, 65528));
    if (stack % 8 != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: profiling.stack_size: {} is not a multiple of 8", source, stack));
    }
    p.stack_size = static_cast<uint32_t>(stack);
    EMBER_TRY(s.get("kernel_frames", p.kernel_frames));
    EMBER_TRY(s.get("off_cpu", p.off_cpu));
    EMBER_TRY(s.get_int("off_cpu_threshold_us", p.off_cpu_threshold_us, 0, 1'000'000'000));
    EMBER_TRY(s.get_bytes("ring_bytes_per_cpu", p.ring_bytes_per_cpu, 0, uint64_t{1} << 30));
    EMBER_TRY(s.get_int("max_unique_stacks", p.max_unique_stacks, 1024, 1 << 24));
    EMBER_TRY(s.get_int("max_processes", p.max_processes, 64, 1 << 20));
    EMBER_TRY(s.check_unknown());
  }
  {
    Section s(table("storage"), "storage", source);
    auto& st = c.storage;
    EMBER_TRY(s.get("directory", st.directory));
    EMBER_TRY(s.get_duration("interval", st.interval, std::chrono::seconds(1), std::chrono::hours(24)));
    EMBER_TRY(s.get_duration("max_age", st.max_age, std::chrono::minutes(1), std::chrono::hours(24 * 3660)));
    EMBER_TRY(s.get_bytes("max_bytes", st.max_bytes, uint64_t{1} << 10, uint64_t{1} << 50));
    EMBER_TRY(s.get_bytes("max_pending_bytes", st.max_pending_bytes, 0, uint64_t{16} << 30));
    EMBER_TRY(s.get_bytes("max_snapshot_bytes", st.max_snapshot_bytes, uint64_t{1} << 20, uint64_t{16} << 30));
    EMBER_TRY(s.check_unknown());
  }
  {
    Section s(table("symbolizer"), "symbolizer", source);
    auto& sy = c.symbolizer;
    EMBER_TRY(s.get_bytes("max_cache_bytes", sy.max_cache_bytes, uint64_t{1} << 20, uint64_t{64} << 30));
    EMBER_TRY(s.get_int("max_cached_binaries", sy.max_cached_binaries, 1, 100000));
    EMBER_TRY(s.get_int("max_perf_maps", sy.max_perf_maps, 0, 100000));
    EMBER_TRY(s.check_unknown());
  }
  {
    Section s(table("http"), "http", source);
    auto& h = c.http;
    EMBER_TRY(s.get("listen", h.listen));
    EMBER_TRY(s.get("allow_remote", h.allow_remote));
    EMBER_TRY(s.get("token_file", h.token_file));
    EMBER_TRY(s.get_int("max_connections", h.max_connections, 1, 100000));
    EMBER_TRY(s.get_bytes("max_header_bytes", h.max_header_bytes, 1024, uint64_t{1} << 20));
    EMBER_TRY(s.get_bytes("max_body_bytes", h.max_body_bytes, 0, uint64_t{1} << 20));
    EMBER_TRY(s.get_duration("read_timeout", h.read_timeout, std::chrono::milliseconds(100), std::chrono::hours(1)));
    EMBER_TRY(s.get_duration("idle_timeout", h.idle_timeout, std::chrono::milliseconds(100), std::chrono::hours(1)));
    EMBER_TRY(s.get_duration("write_timeout", h.write_timeout, std::chrono::milliseconds(100), std::chrono::hours(1)));
    EMBER_TRY(s.get_int("query_workers", h.query_workers, 1, 64));
    EMBER_TRY(s.get_int("max_queued_queries", h.max_queued_queries, 1, 10000));
    EMBER_TRY(s.get_bytes("cache_bytes", h.cache_bytes, 0, uint64_t{64} << 30));
    EMBER_TRY(s.get_duration("max_range", h.max_range, std::chrono::minutes(1), std::chrono::hours(24 * 3660)));
    EMBER_TRY(s.get_int("max_query_samples", h.max_query_samples, 1000, int64_t{1} << 32));
    EMBER_TRY(s.check_unknown());
    if (auto a = parse_listen_address(h.listen); !a) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: http.listen: {}", source, a.error().message()));
    }
  }
  {
    Section s(table("push"), "push", source);
    auto& p = c.push;
    EMBER_TRY(s.get("url", p.url));
    EMBER_TRY(s.get("app_name", p.app_name));
    EMBER_TRY(s.get_string_map("labels", p.labels, 32));
    EMBER_TRY(s.get("token_file", p.token_file));
    EMBER_TRY(s.get("tenant_id", p.tenant_id));
    EMBER_TRY(s.get_duration("timeout", p.timeout, std::chrono::milliseconds(100), std::chrono::minutes(10)));
    EMBER_TRY(s.get_int("max_queue", p.max_queue, 1, 10000));
    EMBER_TRY(s.get_int("max_attempts", p.max_attempts, 1, 1000));
    EMBER_TRY(s.get_duration("initial_backoff", p.initial_backoff, std::chrono::milliseconds(10), std::chrono::hours(1)));
    EMBER_TRY(s.get_duration("max_backoff", p.max_backoff, std::chrono::milliseconds(10), std::chrono::hours(24)));
    EMBER_TRY(s.check_unknown());
    if (!p.url.empty()) {
      if (auto u = parse_push_url(p.url); !u) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: push.url: {}", source, u.error().message()));
      }
    }
    if (!valid_label_name(p.app_name)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: push.app_name: '{}' must be 1-64 letters, digits, '_', '.' or '-'",
                                    source, p.app_name));
    }
    for (const auto& [k, v] : p.labels) {
      if (!valid_label_name(k) || !valid_label_value(v) || k == "host") {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("{}: push.labels: '{}' = '{}' is not a valid label (names: letters, "
                                      "digits, '_', '.', '-'; values without , {{ }} = \"; 'host' is set by emberd)",
                                      source, k, v));
      }
    }
    if (p.max_backoff < p.initial_backoff) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: push.max_backoff is shorter than push.initial_backoff", source));
    }
  }
  {
    Section s(table("log"), "log", source);
    EMBER_TRY(s.get("level", c.log_level));
    EMBER_TRY(s.check_unknown());
    static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!kLevels.contains(c.log_level)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: log.level: '{}' is not one of trace, debug, info, warn, error, "
                                    "critical, off",
                                    source, c.log_level));
    }
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

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress a;
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}': {} (write 127.0.0.1:7070, [::1]:7070, localhost:7070 or "
                                  "unix:/run/ember/emberd.sock)",
                                  text, why));
  };
  if (text.starts_with("unix:")) {
    a.unix_socket = true;
    a.path = std::string(text.substr(5));
    if (a.path.empty() || a.path.front() != '/') return bad("the socket path must be absolute");
    if (a.path.size() >= 108) return bad("the socket path is too long");
    a.loopback = true;  // only processes on this host can connect
    return a;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("the port is missing");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 addresses in brackets");
  }
  auto p = parse_port(port);
  if (!p) return bad("the port must be 0 to 65535");
  a.port = *p;
  if (host == "localhost") host = "127.0.0.1";
  a.host = std::string(host);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, a.host.c_str(), &v4) == 1) {
    a.loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (::inet_pton(AF_INET6, a.host.c_str(), &v6) == 1) {
    a.loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    return bad("the host must be a numeric IP address or localhost");
  }
  return a;
}

Result<PushUrl> parse_push_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}': {} (write http://HOST:PORT, e.g. http://pyroscope:4040)", text, why));
  };
  if (text.starts_with("https://")) {
    return bad("https is not supported: push to a local TLS proxy or Grafana Alloy over http");
  }
  if (!text.starts_with("http://")) return bad("expected http://");
  std::string_view rest = text.substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  PushUrl u;
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (path.ends_with("/")) path.remove_suffix(1);
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#' || c == '%' || c == 0x7f) {
        return bad("the path may not contain spaces, '?', '#' or '%'");
      }
    }
    u.prefix = std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) return bad("credentials in the URL are not supported (use push.token_file)");
  std::string_view host = authority;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unbalanced '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      auto p = parse_port(after.substr(1));
      if (!p || *p == 0) return bad("invalid port");
      u.port = *p;
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto p = parse_port(authority.substr(colon + 1));
    if (!p || *p == 0) return bad("invalid port");
    u.port = *p;
  }
  if (host.empty() || host.size() > 253) return bad("the host is missing");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return bad("the host contains characters a host name cannot have");
    }
  }
  u.host = std::string(host);
  return u;
}

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

namespace {
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}
std::string quote_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + quote(v[i]);
  return out + "]";
}
}  // namespace

std::string format_config(const Config& c) {
  std::string out = fmt::format("# emberd: effective configuration (from {})\n", c.source);
  out += "\n[targets]\n";
  if (c.targets.all) {
    out += "all = true\n";
  } else {
    std::string pids = "[";
    for (size_t i = 0; i < c.targets.pids.size(); ++i) pids += (i ? ", " : "") + std::to_string(c.targets.pids[i]);
    out += fmt::format("pids = {}]\nnames = {}\ncgroups = {}\n", pids, quote_list(c.targets.names),
                       quote_list(c.targets.cgroups));
  }
  const auto& p = c.profiling;
  out += fmt::format(
      "\n[profiling]\nfrequency = {}\ncall_graph = \"{}\"\nstack_size = {}\nkernel_frames = {}\n"
      "off_cpu = {}\noff_cpu_threshold_us = {}\n"
      "ring_bytes_per_cpu = {}\nmax_unique_stacks = {}\nmax_processes = {}\n",
      p.frequency_hz, p.call_graph == collector::CallGraphMode::kDwarf ? "dwarf" : "fp", p.stack_size,
      p.kernel_frames, p.off_cpu, p.off_cpu_threshold_us, p.ring_bytes_per_cpu == 0 ? "0" : quote(format_bytes(p.ring_bytes_per_cpu)),
      p.max_unique_stacks, p.max_processes);
  const auto& s = c.storage;
  out += fmt::format(
      "\n[storage]\ndirectory = {}\ninterval = \"{}\"\nmax_age = \"{}\"\nmax_bytes = \"{}\"\n"
      "max_pending_bytes = \"{}\"\nmax_snapshot_bytes = \"{}\"\n",
      quote(s.directory), format_duration(s.interval), format_duration(s.max_age), format_bytes(s.max_bytes),
      format_bytes(s.max_pending_bytes), format_bytes(s.max_snapshot_bytes));
  const auto& y = c.symbolizer;
  out += fmt::format("\n[symbolizer]\nmax_cache_bytes = \"{}\"\nmax_cached_binaries = {}\nmax_perf_maps = {}\n",
                     format_bytes(y.max_cache_bytes), y.max_cached_binaries, y.max_perf_maps);
  const auto& h = c.http;
  out += fmt::format(
      "\n[http]\nlisten = {}\nallow_remote = {}\ntoken_file = {}\nmax_connections = {}\n"
      "max_header_bytes = \"{}\"\nmax_body_bytes = \"{}\"\nread_timeout = \"{}\"\nidle_timeout = \"{}\"\n"
      "write_timeout = \"{}\"\nquery_workers = {}\nmax_queued_queries = {}\ncache_bytes = \"{}\"\n"
      "max_range = \"{}\"\nmax_query_samples = {}\n",
      quote(h.listen), h.allow_remote, quote(h.token_file), h.max_connections, format_bytes(h.max_header_bytes),
      format_bytes(h.max_body_bytes), format_duration(h.read_timeout), format_duration(h.idle_timeout),
      format_duration(h.write_timeout), h.query_workers, h.max_queued_queries, format_bytes(h.cache_bytes),
      format_duration(h.max_range), h.max_query_samples);
  const auto& u = c.push;
  std::string labels = "{";
  bool first = true;
  for (const auto& [k, v] : u.labels) {
    labels += fmt::format("{} {} = {}", first ? "" : ",", quote(k), quote(v));
    first = false;
  }
  labels += first ? "}" : " }";
  out += fmt::format(
      "\n[push]\nurl = {}\napp_name = {}\nlabels = {}\ntoken_file = {}\ntenant_id = {}\ntimeout = \"{}\"\n"
      "max_queue = {}\nmax_attempts = {}\ninitial_backoff = \"{}\"\nmax_backoff = \"{}\"\n",
      quote(u.url), quote(u.app_name), labels, quote(u.token_file), quote(u.tenant_id),
      format_duration(u.timeout), u.max_queue, u.max_attempts, format_duration(u.initial_backoff),
      format_duration(u.max_backoff));
  out += fmt::format("\n[log]\nlevel = {}\n", quote(c.log_level));
  return out;
}

}  // namespace ember::daemon
