#include "daemon/query_engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/logfmt.h"
#include "proto/pprof.h"
#include "symbolizer/build_profile.h"

namespace ember::daemon {

namespace {
// Bounds of the per-snapshot process summaries.
constexpr size_t kMaxRowsPerSummary = 256;
constexpr size_t kMaxSummaryRows = 200'000;
constexpr std::string_view kLivePrefix = "live:";

struct RowKey {
  int32_t pid;
  std::string comm;
  bool operator<(const RowKey& o) const { return std::tie(pid, comm) < std::tie(o.pid, o.comm); }
};

std::vector<TargetRow> top_rows(std::map<RowKey, TargetRow>& rows, size_t max) {
  std::vector<TargetRow> out;
  out.reserve(rows.size());
  for (auto& [k, r] : rows) out.push_back(std::move(r));
  std::sort(out.begin(), out.end(), [](const TargetRow& a, const TargetRow& b) {
    return std::tie(b.samples, a.pid, a.comm) < std::tie(a.samples, b.pid, b.comm);
  });
  if (out.size() > max) out.resize(max);
  return out;
}
}  // namespace

QueryEngine::QueryEngine(SnapshotStore& store, LiveWindow& live, symbolizer::Symbolizer& symbols,
                         std::mutex& handoff, uint64_t cache_bytes, uint64_t max_query_samples,
                         uint64_t max_query_memory)
    : store_(store),
      live_(live),
      symbols_(symbols),
      handoff_(handoff),
      cache_limit_(cache_bytes),
      max_query_samples_(max_query_samples),
      max_query_memory_(max_query_memory) {}

uint64_t QueryEngine::max_query_memory() const {
  std::lock_guard lock(mutex_);
  return max_query_memory_;
}

void QueryEngine::set_limits(uint64_t cache_bytes, uint64_t max_query_samples, uint64_t max_query_memory) {
  std::lock_guard lock(mutex_);
  cache_limit_ = cache_bytes;
  max_query_samples_ = max_query_samples;
  max_query_memory_ = max_query_memory;
  while (cache_bytes_ > cache_limit_ && !cache_.empty()) {
    cache_bytes_ -= cache_.oldest()->second.bytes;
    cache_.evict_oldest();
    stats_.cache_evictions++;
  }
}

QueryStats QueryEngine::stats() const {
  std::lock_guard lock(mutex_);
  QueryStats s = stats_;
  s.cache_bytes = cache_bytes_;
  s.cache_entries = cache_.size();
  return s;
}

std::vector<QueryEngine::Part> QueryEngine::parts(const TimeRange& range) {
  std::vector<SnapshotInfo> snapshots;
  LiveWindow::View view;
  {
    std::lock_guard lock(handoff_);
    snapshots = store_.list(range.from, range.to);
    view = live_.view();
  }
  std::vector<Part> out;
  for (SnapshotInfo& s : snapshots) {
    Part p;
    p.key = s.name;
    p.start = s.start;
    p.end = s.end;
    p.snapshot = std::move(s);
    out.push_back(std::move(p));
  }
  auto add_live = [&](const std::shared_ptr<const profile::RawProfile>& raw, UnixNanos start, UnixNanos end,
                      std::string key) {
    if (!raw || end < range.from || start > range.to) return;
    out.push_back(Part{std::move(key), {}, raw, start, end});
  };
  add_live(view.sealed, view.sealed_start, view.sealed_end,
           fmt::format("{}sealed:{}", kLivePrefix, view.sealed_start));
  add_live(view.current, view.current_start, view.current_end,
           fmt::format("{}current:{}", kLivePrefix, view.generation));
  return out;
}

std::shared_ptr<const profile::Profile> QueryEngine::cached(const std::string& key) {
  std::lock_guard lock(mutex_);
  const CacheEntry* entry = cache_.find(key);
  if (entry == nullptr) return nullptr;
  stats_.cache_hits++;
  return entry->profile;
}

void QueryEngine::remember(const std::string& key, std::shared_ptr<const profile::Profile> p) {
  size_t bytes = estimate_bytes(*p);
  std::lock_guard lock(mutex_);
  if (key.starts_with(kLivePrefix)) {
    // Only the newest symbolization of each live window is worth keeping.
    std::string kind = key.substr(0, key.find(':', kLivePrefix.size()) + 1);
    std::vector<std::string> older;
    cache_.for_each([&](const std::string& k, const CacheEntry&) {
      if (k.starts_with(kind) && k != key) older.push_back(k);
    });
    for (const std::string& k : older) {
      cache_bytes_ -= cache_.peek(k)->bytes;
      cache_.erase(k);
    }
  }
  if (bytes > cache_limit_ || cache_.peek(key) != nullptr) return;
  while (cache_bytes_ + bytes > cache_limit_ && !cache_.empty()) {
    cache_bytes_ -= cache_.oldest()->second.bytes;
    cache_.evict_oldest();
    stats_.cache_evictions++;
  }
  cache_.put(key, CacheEntry{std::move(p), bytes});
  cache_bytes_ += bytes;
}

std::shared_ptr<const profile::Profile> QueryEngine::load(const Part& part) {
  if (auto hit = cached(part.key)) return hit;
  std::shared_ptr<const profile::Profile> loaded;
  if (part.raw) {
    loaded = std::make_shared<const profile::Profile>(symbolizer::build_profile(*part.raw, symbols_));
    std::lock_guard lock(mutex_);
    stats_.live_symbolizations++;
  } else {
    auto bytes = store_.read(part.snapshot);
    if (!bytes) {
      if (bytes.error().code() != ErrorCode::kNotFound) {
        spdlog::warn("msg=\"cannot read snapshot\" error={}", lf(bytes.error().message()));
      }
      return nullptr;
    }
    const uint64_t max = store_.limits().max_snapshot_bytes;
    auto decoded = proto::decode(**bytes, part.snapshot.name, proto::DecodeLimits{max, 2 * max});
    if (!decoded) {
      {
        std::lock_guard lock(mutex_);
        stats_.decode_failures++;
      }
      if (!part.snapshot.pending) store_.quarantine(part.snapshot.name, decoded.error().message());
      return nullptr;
    }
    loaded = std::make_shared<const profile::Profile>(std::move(*decoded));
    std::lock_guard lock(mutex_);
    stats_.snapshots_decoded++;
  }
  remember(part.key, loaded);
  return loaded;
}

Result<bool> QueryEngine::merge_part(profile::ProfileBuilder& builder, const Part& part, const SampleFilter& filter,
                                     uint64_t max_samples, const QueryControl& control) {
  if (auto ok = control.check(); !ok) return std::unexpected(ok.error());
  auto p = load(part);
  if (!p) return false;
  auto ok = merge_filtered(builder, *p, filter, max_samples, control);
  if (ok) return true;
  if (ok.error().code() == ErrorCode::kResourceExhausted) {
    return make_error(ErrorCode::kResourceExhausted,
                      fmt::format("the answer would hold more than {} distinct samples "
                                  "(http.max_query_samples): narrow the time range or filter by pid, "
                                  "comm or label",
                                  max_samples));
  }
  if (ok.error().code() == ErrorCode::kInterrupted) return std::unexpected(ok.error());
  // A foreign snapshot with other sample types: leave it out rather than fail the query.
  spdlog::warn("msg=\"snapshot left out of a query\" name={} error={}", lf(part.key), lf(ok.error().message()));
  return false;
}

namespace {
Error too_much_memory(uint64_t max_bytes) {
  return Error(ErrorCode::kResourceExhausted,
               fmt::format("the merged profile would need more than {} of memory (http.max_query_memory): "
                           "narrow the time range, filter by pid, comm or label, or raise "
                           "http.max_query_memory",
                           format_bytes(max_bytes)));
}
}  // namespace

std::pair<uint64_t, uint64_t> QueryEngine::query_limits() const {
  std::lock_guard lock(mutex_);
  return {max_query_samples_, max_query_memory_};
}

Result<profile::Profile> QueryEngine::profile(const TimeRange& range, const SampleFilter& filter,
                                              const QueryControl& control) {
  const auto [max_samples, max_bytes] = query_limits();
  profile::ProfileBuilder builder;
  for (const Part& part : parts(range)) {
    auto merged = merge_part(builder, part, filter, max_samples, control);
    if (!merged) return std::unexpected(merged.error());
    // The memory the answer is built from, bounded while it grows (not after rendering).
    if (estimate_bytes(builder.profile()) > max_bytes) return std::unexpected(too_much_memory(max_bytes));
  }
  set_default_sample_types(builder);
  profile::Profile out = std::move(builder).finish();
  if (out.time_nanos == 0) {
    out.time_nanos = range.from;
    out.duration_nanos = range.to - range.from;
  }
  return out;
}

Result<std::vector<RangeRun>> QueryEngine::runs(const TimeRange& range, const SampleFilter& filter,
                                                const QueryControl& control) {
  const auto [max_samples, max_bytes] = query_limits();
  std::vector<RangeRun> out;
  uint64_t bytes = 0;
  for (const Part& part : parts(range)) {
    profile::ProfileBuilder builder;
    auto merged = merge_part(builder, part, filter, max_samples, control);
    if (!merged) return std::unexpected(merged.error());
    if (!*merged || builder.profile().samples.empty()) continue;
    bytes += estimate_bytes(builder.profile());
    if (bytes > max_bytes) return std::unexpected(too_much_memory(max_bytes));
    set_default_sample_types(builder);
    out.push_back(RangeRun{part.raw ? "live" : part.snapshot.name, part.start, part.end, std::move(builder).finish()});
  }
  std::sort(out.begin(), out.end(), [](const RangeRun& a, const RangeRun& b) { return a.start < b.start; });
  return out;
}

const std::vector<TargetRow>& QueryEngine::summary(const Part& part, const profile::Profile& p) {
  // Caller holds mutex_.
  auto found = summaries_.find(part.key);
  if (found != summaries_.end()) return found->second;
  auto cpu = p.value_index("cpu");
  auto samples = p.value_index("samples");
  std::map<RowKey, TargetRow> rows;
  for (const profile::Sample& s : p.samples) {
    RowKey key{static_cast<int32_t>(p.num_label(s, profile::kLabelPid).value_or(0)),
               std::string(p.str_label(s, profile::kLabelComm))};
    TargetRow& r = rows[key];
    r.pid = key.pid;
    r.comm = key.comm;
    if (samples && *samples < s.values.size()) r.samples += static_cast<uint64_t>(std::max<int64_t>(0, s.values[*samples]));
    if (cpu && *cpu < s.values.size()) r.cpu_ns += s.values[*cpu];
    r.last_seen = part.end;
  }
  std::vector<TargetRow> top = top_rows(rows, kMaxRowsPerSummary);
  for (const profile::ProcessResources& res : p.resources) {
    for (TargetRow& r : top) {
      if (r.pid == res.pid) r.resources = res;
    }
  }
  size_t total = 0;
  for (const auto& [k, v] : summaries_) total += v.size();
  while (!summaries_.empty() && total + top.size() > kMaxSummaryRows) {
    total -= summaries_.begin()->second.size();
    summaries_.erase(summaries_.begin());  // names sort by time: the oldest goes first
  }
  return summaries_.emplace(part.key, std::move(top)).first->second;
}

std::vector<TargetRow> QueryEngine::targets(const TimeRange& range, size_t max) {
  std::map<RowKey, TargetRow> rows;
  auto add = [&](const TargetRow& r) {
    TargetRow& t = rows[RowKey{r.pid, r.comm}];
    t.pid = r.pid;
    t.comm = r.comm;
    t.samples += r.samples;
    t.cpu_ns += r.cpu_ns;
    t.last_seen = std::max(t.last_seen, r.last_seen);
    if (r.resources && (!t.resources || r.resources->time_ns >= t.resources->time_ns)) t.resources = r.resources;
  };
  for (const Part& part : parts(range)) {
    if (part.raw) {
      // The live window needs no names for this: its origins are enough.
      std::map<RowKey, TargetRow> live;
      part.raw->for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                                   const profile::RawStackCounts& c) {
        TargetRow& r = live[RowKey{o.pid, std::string(part.raw->str(o.comm))}];
        r.pid = o.pid;
        r.comm = std::string(part.raw->str(o.comm));
        r.samples += c.samples;
        r.cpu_ns += static_cast<int64_t>(c.weight);
        r.last_seen = part.end;
      });
      for (const auto& [k, r] : live) add(r);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      auto it = summaries_.find(part.key);
      if (it != summaries_.end()) {
        for (const TargetRow& r : it->second) add(r);
        continue;
      }
    }
    auto p = load(part);
    if (!p) continue;
    std::lock_guard lock(mutex_);
    for (const TargetRow& r : summary(part, *p)) add(r);
  }
  return top_rows(rows, max);
}

}  // namespace ember::daemon
