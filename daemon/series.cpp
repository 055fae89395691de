#include "daemon/series.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <climits>

#include "daemon/logfmt.h"
#include "profile/builder.h"

namespace ember::daemon {

namespace {

constexpr int64_t kSecond = 1'000'000'000;
// The defaults aim at a chart a few hundred pixels wide.
constexpr int64_t kDefaultPoints = 300;
// Function names shared by the cached summaries; past this the cache starts again.
constexpr size_t kMaxNames = 1'000'000;

bool keeps_process(const SampleFilter& f, int32_t pid, std::string_view comm) {
  if (!f.pids.empty() && std::find(f.pids.begin(), f.pids.end(), pid) == f.pids.end()) return false;
  return !f.comm || f.comm->search(comm);
}

// One function's values in the steps it has any, in step order (parts come oldest first).
struct Sparse {
  std::vector<std::pair<size_t, std::array<int64_t, 4>>> points;
  std::array<int64_t, 4> sum{};
  void add(size_t step, const std::array<int64_t, 4>& v) {
    if (points.empty() || points.back().first != step) points.push_back({step, {}});
    for (size_t i = 0; i < 4; ++i) {
      points.back().second[i] += v[i];
      sum[i] += v[i];
    }
  }
};

// The step asked for, or the default for the range and the longest stored snapshot in it.
int64_t step_of_range(const TimeRange& range, int64_t asked, const std::vector<QueryEngine::Part>& parts) {
  if (asked > 0) return asked;
  int64_t longest = kSecond;
  for (const QueryEngine::Part& p : parts) {
    if (!p.raw) longest = std::max(longest, p.end - p.start);
  }
  return SeriesEngine::default_step(range.to - range.from, longest);
}

std::vector<UnixNanos> step_starts(const TimeRange& range, int64_t step_ns) {
  std::vector<UnixNanos> out;
  for (UnixNanos t = range.from; t < range.to; t += step_ns) out.push_back(t);
  return out;
}

// A part counts in the step that holds the middle of its window; nullopt: outside the range.
std::optional<size_t> step_of_part(const QueryEngine::Part& part, const TimeRange& range, int64_t step_ns) {
  const UnixNanos middle = part.start + (part.end - part.start) / 2;
  if (middle < range.from || middle >= range.to) return std::nullopt;
  return static_cast<size_t>((middle - range.from) / step_ns);
}

}  // namespace

int64_t SeriesEngine::default_step(int64_t range_ns, int64_t snapshot_ns) {
  static constexpr int64_t kSteps[] = {1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
                                       3600, 7200, 10800, 21600, 43200, 86400};
  const int64_t wanted = std::max((range_ns + kDefaultPoints - 1) / kDefaultPoints, snapshot_ns);
  for (int64_t s : kSteps) {
    if (s * kSecond >= wanted) return s * kSecond;
  }
  return (wanted + 86400 * kSecond - 1) / (86400 * kSecond) * 86400 * kSecond;
}

SeriesEngine::SeriesEngine(QueryEngine& queries, uint64_t cache_bytes) : queries_(queries), cache_limit_(cache_bytes) {}

size_t SeriesEngine::Compact::bytes() const {
  return sizeof(*this) + processes.capacity() * sizeof(Process) + functions.capacity() * sizeof(Function) +
         resources.capacity() * sizeof(profile::ProcessResources);
}

uint32_t SeriesEngine::intern(std::string_view name) {
  auto it = name_ids_.find(name);
  if (it != name_ids_.end()) return it->second;
  names_.emplace_back(name);
  const auto id = static_cast<uint32_t>(names_.size() - 1);
  name_ids_.emplace(names_.back(), id);
  return id;
}

std::shared_ptr<const SeriesEngine::Compact> SeriesEngine::compact(const SnapshotSummary& s, const Keep& keep) {
  auto out = std::make_shared<Compact>();
  out->has_functions = s.has_functions;
  std::vector<uint32_t> ids(s.strings.size());
  for (size_t i = 0; i < s.strings.size(); ++i) ids[i] = intern(s.strings[i]);
  out->processes.reserve(s.processes.size());
  for (const SnapshotSummary::Process& p : s.processes) {
    const auto first = static_cast<uint32_t>(out->functions.size());
    for (const SnapshotSummary::Function& f : p.functions) {
      if (keep && !keep(ids[f.name])) continue;
      out->functions.push_back({ids[f.name], f.self_samples, f.self_cpu_ns, f.total_samples, f.total_cpu_ns});
    }
    out->processes.push_back({p.pid, ids[p.comm], p.samples, p.cpu_ns, first,
                              static_cast<uint32_t>(out->functions.size())});
  }
  return out;
}

void SeriesEngine::remember(const std::string& key, std::shared_ptr<const Compact> c) {
  const size_t bytes = c->bytes();
  if (bytes > cache_limit_) return;
  while (cache_bytes_ + bytes > cache_limit_ && !cache_.empty()) {
    // A series longer than the cache holds keeps what it has cached and adds no more:
    // evicting its own first steps for its last ones would leave nothing for the next time.
    if (cache_.oldest()->second.used == generation_) return;
    cache_bytes_ -= cache_.oldest()->second.compact->bytes();
    cache_.evict_oldest();
  }
  if (auto* old = cache_.peek(key)) cache_bytes_ -= old->compact->bytes();
  cache_.put(key, Cached{std::move(c), generation_});
  cache_bytes_ += bytes;
}

std::shared_ptr<const SeriesEngine::Compact> SeriesEngine::decoded(const QueryEngine::Part& part,
                                                                   const SampleFilter& filter) {
  auto p = queries_.load(part);
  if (!p) return nullptr;
  if (filter.labels.empty()) return compact(summarize(*p), {});
  profile::ProfileBuilder kept;
  if (auto ok = merge_filtered(kept, *p, filter, SIZE_MAX); !ok) {
    spdlog::warn("msg=\"snapshot left out of a series\" name={} error={}", lf(part.key), lf(ok.error().message()));
    return nullptr;
  }
  return compact(summarize(std::move(kept).finish()), {});
}

std::string SeriesEngine::summary_key(const QueryEngine::Part& part, const std::optional<common::Regex>& function) {
  return function ? part.key + "\nfunction=" + function->pattern() : part.key;
}

std::string SeriesEngine::resources_key(const QueryEngine::Part& part, int32_t pid) {
  return fmt::format("{}\nresources={}", part.key, pid);
}

std::shared_ptr<const SeriesEngine::Compact> SeriesEngine::cached(const std::string& key, Series::Sources& sources) {
  auto* hit = cache_.find(key);
  if (!hit) return nullptr;
  sources.cached++;
  hit->used = generation_;
  return hit->compact;
}

void SeriesEngine::read_ahead(const std::vector<QueryEngine::Part>& parts,
                              const std::function<std::string(const QueryEngine::Part&)>& key_of) {
  std::vector<const SnapshotInfo*> to_read;
  for (const QueryEngine::Part& part : parts) {
    if (!part.raw && !cache_.peek(key_of(part))) to_read.push_back(&part.snapshot);
  }
  queries_.store().prefetch_summaries(to_read);
}

std::shared_ptr<const SeriesEngine::Compact> SeriesEngine::stored(const QueryEngine::Part& part,
                                                                  const std::optional<common::Regex>& function,
                                                                  const Keep& keep, Series::Sources& sources) {
  // Kept in memory: the processes, and for a function regex only the functions it matches
  // (a week of whole summaries would not fit; a chart asked for again does).
  const bool with_functions = function.has_value();
  const std::string key = summary_key(part, function);
  if (auto c = cached(key, sources)) return c;
  auto s = summary_of(part, with_functions, sources);
  if (!s) return nullptr;
  if (!with_functions) s->has_functions = false;
  auto c = compact(*s, with_functions ? keep : [](uint32_t) { return false; });
  remember(key, c);
  return c;
}

std::optional<SnapshotSummary> SeriesEngine::summary_of(const QueryEngine::Part& part, bool with_functions,
                                                        Series::Sources& sources) {
  const SnapshotInfo& info = part.snapshot;
  const uint64_t snapshot_bytes = info.pending ? info.pending->size() : info.bytes;
  std::string problem;
  if (auto bytes = queries_.store().read_summary(info); bytes) {
    if (auto s = decode_summary(**bytes, snapshot_bytes, with_functions); s) {
      sources.summaries++;
      return std::move(*s);
    } else {
      problem = s.error().message();
    }
  } else if (bytes.error().code() != ErrorCode::kNotFound) {
    problem = bytes.error().message();
  }
  // Missing (written before summaries existed, or a crash between the two files) or damaged:
  // made again from the snapshot, never trusted in part.
  if (!problem.empty()) {
    spdlog::warn("msg=\"snapshot summary unusable; rebuilding it from the snapshot\" name={} error={}", lf(info.name),
                 lf(problem));
  }
  auto p = queries_.load(part);
  if (!p) return std::nullopt;
  SnapshotSummary s = summarize(*p);
  if (auto bytes = encode_summary(s, snapshot_bytes); bytes) {
    if (auto ok = queries_.store().write_summary(info, *bytes); !ok) {
      spdlog::warn("msg=\"cannot write snapshot summary\" name={} error={}", lf(info.name), lf(ok.error().message()));
    }
  }
  sources.rebuilt++;
  return s;
}

std::shared_ptr<const SeriesEngine::Compact> SeriesEngine::stored_resources(const QueryEngine::Part& part, int32_t pid,
                                                                            Series::Sources& sources) {
  const std::string key = resources_key(part, pid);
  if (auto c = cached(key, sources)) return c;
  auto s = summary_of(part, false, sources);
  if (!s) return nullptr;
  auto c = std::make_shared<Compact>();
  for (const profile::ProcessResources& r : s->resources) {
    if (r.pid == pid) c->resources.push_back(r);
  }
  remember(key, c);
  return c;
}

Result<ResourceSeries> SeriesEngine::resources(const ResourceQuery& q, const QueryControl& control) {
  std::lock_guard lock(mutex_);
  ++generation_;
  std::vector<QueryEngine::Part> parts = queries_.parts(q.range);
  ResourceSeries out;
  out.range = q.range;
  out.step_ns = step_of_range(q.range, q.step_ns, parts);
  out.starts = step_starts(q.range, out.step_ns);
  out.steps.resize(out.starts.size());
  if (!q.decode_only) read_ahead(parts, [&](const QueryEngine::Part& part) { return resources_key(part, q.pid); });
  for (const QueryEngine::Part& part : parts) {
    if (auto ok = control.check(); !ok) return std::unexpected(ok.error());
    // The live window's processes are read when it is sealed: it has no readings yet.
    if (part.raw) continue;
    const auto step = step_of_part(part, q.range, out.step_ns);
    if (!step) continue;
    std::vector<profile::ProcessResources> readings;
    if (q.decode_only) {
      out.sources.decoded++;
      auto p = queries_.load(part);
      if (!p) continue;
      for (const profile::ProcessResources& r : p->resources) {
        if (r.pid == q.pid) readings.push_back(r);
      }
    } else {
      auto c = stored_resources(part, q.pid, out.sources);
      if (!c) continue;
      readings = c->resources;
    }
    out.sources.snapshots++;
    ResourceStep& at = out.steps[*step];
    for (const profile::ProcessResources& r : readings) {
      if (!at.last || r.time_ns >= at.last->time_ns) at.last = r;
      if (!r.has_interval) continue;
      if (!at.used) at.used.emplace();
      *at.used += r.interval;
      at.used_io = at.used_io || r.has_io;
    }
  }
  return out;
}

Result<Series> SeriesEngine::series(const SeriesQuery& q, const QueryControl& control) {
  std::lock_guard lock(mutex_);
  ++generation_;
  if (names_.size() > kMaxNames) {
    cache_.clear();
    cache_bytes_ = 0;
    name_ids_.clear();
    names_.clear();
  }
  std::vector<QueryEngine::Part> parts = queries_.parts(q.range);
  Series out;
  out.range = q.range;
  out.step_ns = step_of_range(q.range, q.step_ns, parts);
  out.starts = step_starts(q.range, out.step_ns);
  const size_t steps = out.starts.size();
  out.samples.assign(steps, 0);
  out.cpu_ns.assign(steps, 0);

  std::vector<int8_t> matches;  // per name id: -1 unknown, 0 no, 1 yes
  const Keep matching = [&](uint32_t name) {
    if (matches.size() <= name) matches.resize(names_.size(), -1);
    if (matches[name] < 0) matches[name] = q.function->search(names_[name]) ? 1 : 0;
    return matches[name] == 1;
  };
  const bool from_summaries = !q.decode_only && q.filter.labels.empty();
  if (from_summaries) read_ahead(parts, [&](const QueryEngine::Part& part) { return summary_key(part, q.function); });
  std::unordered_map<uint32_t, Sparse> functions;
  for (const QueryEngine::Part& part : parts) {
    if (auto ok = control.check(); !ok) return std::unexpected(ok.error());
    const auto found = step_of_part(part, q.range, out.step_ns);
    if (!found) continue;
    const size_t step = *found;
    std::shared_ptr<const Compact> c;
    if (part.raw) {
      out.sources.live++;
      c = decoded(part, q.filter);
    } else if (!from_summaries) {
      out.sources.decoded++;
      c = decoded(part, q.filter);
    } else {
      c = stored(part, q.function, q.function ? matching : Keep(), out.sources);
    }
    if (!c) continue;
    if (!part.raw) out.sources.snapshots++;
    for (const Compact::Process& p : c->processes) {
      if (!keeps_process(q.filter, p.pid, names_[p.comm])) continue;
      out.samples[step] += p.samples;
      out.cpu_ns[step] += p.cpu_ns;
      if (!q.function) continue;
      for (uint32_t i = p.first; i < p.last; ++i) {
        const Compact::Function& f = c->functions[i];
        if (!matching(f.name)) continue;
        functions[f.name].add(step, {f.self_samples, f.total_samples, f.self_cpu_ns, f.total_cpu_ns});
      }
    }
  }

  out.matched_functions = functions.size();
  std::vector<std::pair<uint32_t, const Sparse*>> ranked;
  for (const auto& [id, s] : functions) ranked.emplace_back(id, &s);
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    if (a.second->sum[1] != b.second->sum[1]) return a.second->sum[1] > b.second->sum[1];
    return names_[a.first] < names_[b.first];
  });
  if (ranked.size() > q.top) ranked.resize(q.top);
  for (const auto& [id, s] : ranked) {
    FunctionSeries f;
    f.name = names_[id];
    f.self_samples = s->sum[0];
    f.total_samples = s->sum[1];
    f.self_cpu_ns = s->sum[2];
    f.total_cpu_ns = s->sum[3];
    for (auto* v : {&f.step_self_samples, &f.step_total_samples, &f.step_self_cpu_ns, &f.step_total_cpu_ns}) {
      v->assign(steps, 0);
    }
    for (const auto& [step, v] : s->points) {
      f.step_self_samples[step] = v[0];
      f.step_total_samples[step] = v[1];
      f.step_self_cpu_ns[step] = v[2];
      f.step_total_cpu_ns[step] = v[3];
    }
    out.functions.push_back(std::move(f));
  }
  return out;
}

}  // namespace ember::daemon
