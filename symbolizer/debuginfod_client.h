#pragma once
// Debug files by build-id from debuginfod servers (elfutils' libdebuginfod), for binaries
// that carry no symbols or DWARF on the host: the last place find_debug_file looks. Used at
// symbolization time only, never on the sampling path.
//
// libdebuginfod reads its settings from the environment (DEBUGINFOD_URLS, _CACHE_PATH,
// _TIMEOUT): create() sets them, so it must run before other threads start. What the
// library does not bound, this class does: the cache's total size (oldest files removed
// first) and how often a missing build-id is asked for again (an in-memory negative cache).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/types.h"

struct debuginfod_client;

namespace ember::symbolizer {

struct DebuginfodSettings {
  std::vector<std::string> urls;  // empty: off
  std::string cache_dir;          // empty: $XDG_CACHE_HOME/ember/debuginfod, ~/.cache/ember/debuginfod
  std::chrono::seconds timeout{10};     // per server and file, of a stalled transfer
  uint64_t max_cache_bytes = uint64_t{1} << 30;
  std::chrono::seconds retry_missing_after{600};  // a build-id no server had
};

struct DebuginfodStats {
  uint64_t fetched = 0;  // debug files received (or found in the cache)
  uint64_t missing = 0;  // build-ids no server had
  uint64_t failed = 0;   // queries that failed otherwise (server down, timeout)
  uint64_t skipped = 0;  // not asked: the build-id was missing or failed a short while ago
  uint64_t evicted = 0;  // cache files removed to stay under max_cache_bytes
  std::string last_error;  // "http://host:8002: Connection refused"
};

class DebuginfodClient {
 public:
  // DEBUGINFOD_URLS split on spaces (empty when unset).
  static std::vector<std::string> urls_from_environment();
  // The default cache directory (see DebuginfodSettings::cache_dir).
  static std::string default_cache_dir();

  [[nodiscard]] static Result<std::unique_ptr<DebuginfodClient>> create(DebuginfodSettings settings);
  ~DebuginfodClient();
  DebuginfodClient(const DebuginfodClient&) = delete;
  DebuginfodClient& operator=(const DebuginfodClient&) = delete;

  // The path of the debug file for `id` in the cache, or nullopt. Thread-safe (one query at a time).
  std::optional<std::string> find_debuginfo(const common::BuildId& id);
  DebuginfodStats stats() const;
  const DebuginfodSettings& settings() const { return settings_; }

 private:
  explicit DebuginfodClient(DebuginfodSettings settings, debuginfod_client* client);
  void trim_cache(const std::string& keep);

  DebuginfodSettings settings_;
  debuginfod_client* client_;
  mutable std::mutex mutex_;
  std::map<std::string, std::chrono::steady_clock::time_point> negative_;  // build-id -> asked at
  DebuginfodStats stats_;
};

}  // namespace ember::symbolizer
