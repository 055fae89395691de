#pragma once
// Samples over time (GET /api/v1/series): a range cut into steps, each step the samples and CPU
// time of the snapshots whose window has its middle in that step, and with a function regex
// each matching function's self and total per step.
//
// Stored snapshots are read through their summaries (snapshot_summary.h), kept decoded in a
// bounded cache; a summary that is missing or damaged is rebuilt from its snapshot (and
// written again). The live window, and every snapshot when the filter names labels (which
// summaries do not keep), are summarized from the decoded profile: the same numbers, slower.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/lru_cache.h"
#include "common/regex.h"
#include "daemon/query_control.h"
#include "daemon/query_engine.h"
#include "daemon/snapshot_summary.h"

namespace ember::daemon {

struct SeriesQuery {
  TimeRange range;
  int64_t step_ns = 0;  // 0: chosen from the range and the snapshots' length (default_step)
  SampleFilter filter;
  std::optional<common::Regex> function;
  size_t top = 10;
  bool decode_only = false;  // read no summary: every snapshot decoded (benchmark, tests)
};

struct FunctionSeries {
  std::string name;
  // Over the whole range, then per step.
  int64_t self_samples = 0, total_samples = 0, self_cpu_ns = 0, total_cpu_ns = 0;
  std::vector<int64_t> step_self_samples, step_total_samples, step_self_cpu_ns, step_total_cpu_ns;
};

struct Series {
  TimeRange range;
  int64_t step_ns = 0;
  std::vector<UnixNanos> starts;  // of each step
  std::vector<int64_t> samples, cpu_ns;
  std::vector<FunctionSeries> functions;  // the top ones by total samples
  size_t matched_functions = 0;          // all the regex matched
  struct Sources {
    uint64_t snapshots = 0;  // stored snapshots counted
    uint64_t summaries = 0;  // read from their files
    uint64_t cached = 0;     // found decoded in memory
    uint64_t rebuilt = 0;    // missing or damaged, made again from the snapshot
    uint64_t decoded = 0;    // snapshots summarized from the decoded profile (labels, decode_only)
    uint64_t live = 0;       // parts of the live window
  } sources;
};

// One process's resources over time (GET /api/v1/series?metric=...&pid=...): per step, the last
// reading and what the process used during the step's snapshots. Read from the summaries' process
// sections (or the decoded snapshots); the live window has no readings yet (they are taken when
// it is sealed).
struct ResourceQuery {
  TimeRange range;
  int64_t step_ns = 0;  // 0: default_step
  int32_t pid = 0;
  bool decode_only = false;
};

struct ResourceStep {
  std::optional<profile::ProcessResources> last;  // the latest reading in the step
  // The sum of the readings' intervals, over those whose interval is known; nullopt: none is.
  std::optional<profile::ResourceCounters> used;
  bool used_io = false;  // `used` has I/O counters (some reading had them)
};

struct ResourceSeries {
  TimeRange range;
  int64_t step_ns = 0;
  std::vector<UnixNanos> starts;
  std::vector<ResourceStep> steps;
  Series::Sources sources;
};

class SeriesEngine {
 public:
  static constexpr size_t kMaxPoints = 2000;
  static constexpr uint64_t kDefaultCacheBytes = uint64_t{64} << 20;

  explicit SeriesEngine(QueryEngine& queries, uint64_t cache_bytes = kDefaultCacheBytes);

  // The error of control.check() (asked between snapshots) when the query must stop.
  [[nodiscard]] Result<Series> series(const SeriesQuery& query, const QueryControl& control = QueryControl::none());

  [[nodiscard]] Result<ResourceSeries> resources(const ResourceQuery& query,
                                                const QueryControl& control = QueryControl::none());

  // The smallest of 1s, 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h, 3h, 6h, 12h, 1d
  // that gives at most 300 steps and is no shorter than a snapshot (`snapshot_ns`), so that
  // steps are not zero between snapshots.
  static int64_t default_step(int64_t range_ns, int64_t snapshot_ns);

 private:
  // A summary with function names interned in names_ (shared by every cached summary).
  struct Compact {
    struct Function {
      uint32_t name;
      int64_t self_samples, self_cpu_ns, total_samples, total_cpu_ns;
    };
    struct Process {
      int32_t pid;
      uint32_t comm;
      int64_t samples, cpu_ns;
      uint32_t first, last;  // its functions: functions[first, last)
    };
    std::vector<Process> processes;
    std::vector<Function> functions;
    std::vector<profile::ProcessResources> resources;  // of one pid, for a resource series
    bool has_functions = false;  // read without them when the series did not need them
    size_t bytes() const;
  };
  // Which functions (by name id) to keep; empty: all.
  using Keep = std::function<bool(uint32_t)>;
  std::shared_ptr<const Compact> compact(const SnapshotSummary& s, const Keep& keep);
  // The part's summary: from the cache, its file, or rebuilt; nullptr when it cannot be read.
  // With a function regex, only the functions `keep` accepts.
  // The cache key of a part's summary (with the functions `function` matches, when set).
  static std::string summary_key(const QueryEngine::Part& part, const std::optional<common::Regex>& function);
  std::shared_ptr<const Compact> stored(const QueryEngine::Part& part, const std::optional<common::Regex>& function,
                                        const Keep& keep, Series::Sources& sources);
  // The part's resources of one pid: from the cache, the summary, or the rebuilt summary.
  static std::string resources_key(const QueryEngine::Part& part, int32_t pid);
  // The cached compact summary under `key` (counted in `sources`), or nullptr.
  std::shared_ptr<const Compact> cached(const std::string& key, Series::Sources& sources);
  // Reads ahead the summaries of the stored parts whose `key_of` is not cached.
  void read_ahead(const std::vector<QueryEngine::Part>& parts,
                  const std::function<std::string(const QueryEngine::Part&)>& key_of);
  std::shared_ptr<const Compact> stored_resources(const QueryEngine::Part& part, int32_t pid, Series::Sources& sources);
  // The summary of a stored part: its file, or rebuilt from the snapshot (and written again);
  // nullopt when the snapshot cannot be read either. A rebuilt one has its functions.
  std::optional<SnapshotSummary> summary_of(const QueryEngine::Part& part, bool with_functions,
                                            Series::Sources& sources);
  // Summarized from the decoded profile (filtered by labels when the filter has any).
  std::shared_ptr<const Compact> decoded(const QueryEngine::Part& part, const SampleFilter& filter);
  uint32_t intern(std::string_view name);
  void remember(const std::string& key, std::shared_ptr<const Compact> c);

  QueryEngine& queries_;
  // One series at a time: the cache and the name table are shared by all of them.
  std::mutex mutex_;
  uint64_t cache_limit_;
  uint64_t cache_bytes_ = 0;
  struct Cached {
    std::shared_ptr<const Compact> compact;
    uint64_t used = 0;  // the last series (generation_) that read it
  };
  common::LruCache<std::string, Cached> cache_;
  uint64_t generation_ = 0;
  std::deque<std::string> names_;
  std::unordered_map<std::string_view, uint32_t> name_ids_;
};

}  // namespace ember::daemon
