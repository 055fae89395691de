#pragma once
// Answers queries over a time range: the stored snapshots that overlap it (decoded once and
// cached, bounded) and the live window (symbolized on demand, cached until it changes),
// merged with only the samples the filter keeps.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/lru_cache.h"
#include "daemon/live_window.h"
#include "daemon/profile_filter.h"
#include "daemon/query_control.h"
#include "daemon/snapshot_store.h"
#include "profile/profile.h"
#include "symbolizer/symbolizer.h"

namespace ember::daemon {

struct TimeRange {
  UnixNanos from = 0;
  UnixNanos to = 0;
};

// What a process did over a range (GET /api/v1/targets, the index page).
struct TargetRow {
  int32_t pid = 0;
  std::string comm;
  uint64_t samples = 0;
  int64_t cpu_ns = 0;
  UnixNanos last_seen = 0;
  // The process's latest reading in the range (snapshots only: the live window has none yet).
  std::optional<profile::ProcessResources> resources;
};

// One snapshot (or the live window) of a range, filtered: a run for the "what changed" answer.
struct RangeRun {
  std::string name;  // the snapshot's name, or "live"
  UnixNanos start = 0, end = 0;
  profile::Profile profile;
};

struct QueryStats {
  uint64_t snapshots_decoded = 0;  // cache misses
  uint64_t cache_hits = 0;
  uint64_t cache_evictions = 0;
  uint64_t cache_bytes = 0;
  uint64_t cache_entries = 0;
  uint64_t decode_failures = 0;  // files quarantined by queries
  uint64_t live_symbolizations = 0;
};

class QueryEngine {
 public:
  // `handoff` is held by the writer while a sealed window moves from the live window into the
  // store; holding it while looking at both means no window is counted twice or missed.
  static constexpr uint64_t kDefaultMaxQueryMemory = uint64_t{256} << 20;

  QueryEngine(SnapshotStore& store, LiveWindow& live, symbolizer::Symbolizer& symbols,
              std::mutex& handoff, uint64_t cache_bytes, uint64_t max_query_samples,
              uint64_t max_query_memory = kDefaultMaxQueryMemory);

  // The merged profile of the range, filtered. kResourceExhausted past max_query_samples or
  // once its estimated memory passes max_query_memory (checked as it grows, after each
  // snapshot); the error of control.check() (asked between snapshots and while merging) when
  // the query must stop.
  [[nodiscard]] Result<profile::Profile> profile(const TimeRange& range, const SampleFilter& filter,
                                                 const QueryControl& control = QueryControl::none());
  // The same, one profile per snapshot (and live window) with samples the filter keeps, oldest
  // first; bounded as profile() is, by the samples of each and the memory of all.
  [[nodiscard]] Result<std::vector<RangeRun>> runs(const TimeRange& range, const SampleFilter& filter,
                                                   const QueryControl& control = QueryControl::none());
  // Processes seen in the range, most samples first, at most `max`.
  std::vector<TargetRow> targets(const TimeRange& range, size_t max);

  void set_limits(uint64_t cache_bytes, uint64_t max_query_samples,
                  uint64_t max_query_memory = kDefaultMaxQueryMemory);
  uint64_t max_query_memory() const;
  QueryStats stats() const;
  SnapshotStore& store() { return store_; }

  // What a range is made of (for the series, series.h): stored snapshots and the live window.
  struct Part {
    std::string key;  // snapshot name, or "live:..." for the live window
    SnapshotInfo snapshot;
    std::shared_ptr<const profile::RawProfile> raw;
    UnixNanos start = 0, end = 0;
  };
  std::vector<Part> parts(const TimeRange& range);
  // max_query_samples and max_query_memory as set now.
  std::pair<uint64_t, uint64_t> query_limits() const;
  // Decoded (or symbolized) profile of one part; nullptr when it cannot be read (logged,
  // quarantined) or has vanished.
  std::shared_ptr<const profile::Profile> load(const Part& part);

 private:
  // Adds the part's samples that the filter keeps; false when the part was left out (unreadable,
  // foreign); an error when a limit is reached or the query must stop.
  [[nodiscard]] Result<bool> merge_part(profile::ProfileBuilder& builder, const Part& part, const SampleFilter& filter,
                                        uint64_t max_samples, const QueryControl& control);
  std::shared_ptr<const profile::Profile> cached(const std::string& key);
  void remember(const std::string& key, std::shared_ptr<const profile::Profile> p);
  const std::vector<TargetRow>& summary(const Part& part, const profile::Profile& p);

  SnapshotStore& store_;
  LiveWindow& live_;
  symbolizer::Symbolizer& symbols_;
  std::mutex& handoff_;

  mutable std::mutex mutex_;
  uint64_t cache_limit_;
  uint64_t max_query_samples_;
  uint64_t max_query_memory_;
  struct CacheEntry {
    std::shared_ptr<const profile::Profile> profile;
    size_t bytes = 0;
  };
  common::LruCache<std::string, CacheEntry> cache_;
  uint64_t cache_bytes_ = 0;
  // Per-snapshot process summaries: small, kept longer than the decoded profiles so that the
  // targets list does not decode an hour of snapshots each time.
  std::map<std::string, std::vector<TargetRow>> summaries_;
  QueryStats stats_;
};

}  // namespace ember::daemon
