#include "profile/raw_profile.h"

#include <algorithm>

namespace ember::profile {

ModuleId RawProfile::add_module(std::shared_ptr<const Module> module) {
  const Module* key = module.get();
  if (auto it = module_index_.find(key); it != module_index_.end()) return ModuleId{it->second};
  auto id = static_cast<uint32_t>(modules_.size());
  modules_.push_back(std::move(module));
  module_index_.emplace(key, id);
  return ModuleId{id};
}

size_t RawProfile::PythonFrameHash::operator()(const PythonFrame& f) const noexcept {
  uint64_t h = (uint64_t{f.function.value} << 32) ^ f.file.value;
  h ^= ((uint64_t{static_cast<uint32_t>(f.line)} << 32) | static_cast<uint32_t>(f.first_line)) *
       0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  return static_cast<size_t>(h * 0xbf58476d1ce4e5b9ull);
}

std::optional<uint32_t> RawProfile::add_python_frame(std::string_view function, std::string_view file,
                                                     int32_t line, int32_t first_line) {
  PythonFrame f{strings_.intern(function), strings_.intern(file), line, first_line};
  if (auto it = python_index_.find(f); it != python_index_.end()) return it->second;
  if (python_frames_.size() >= max_python_frames_) return std::nullopt;
  auto index = static_cast<uint32_t>(python_frames_.size());
  python_frames_.push_back(f);
  python_index_.emplace(f, index);
  return index;
}

uint64_t RawProfile::hash_stack(const SampleOrigin& origin, std::span<const RawFrame> frames) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 1099511628211ull;
  };
  mix((static_cast<uint64_t>(static_cast<uint32_t>(origin.pid)) << 32) |
      static_cast<uint32_t>(origin.tid));
  mix((static_cast<uint64_t>(origin.comm.value) << 32) | origin.thread_comm.value);
  mix(origin.service.value);
  for (const RawFrame& f : frames) {
    mix(f.module.value);
    mix(f.offset);
  }
  return h;
}

bool RawProfile::add_sample(const SampleOrigin& origin, std::span<const RawFrame> leaf_first,
                            uint64_t weight, uint64_t samples) {
  return add(origin, leaf_first, RawStackCounts{samples, weight});
}

bool RawProfile::add(const SampleOrigin& origin, std::span<const RawFrame> leaf_first,
                     const RawStackCounts& counts) {
  uint64_t h = hash_stack(origin, leaf_first);
  auto& bucket = index_[h];
  for (uint32_t i : bucket) {
    Entry& e = entries_[i];
    if (e.origin == origin && e.frame_count == leaf_first.size() &&
        std::equal(leaf_first.begin(), leaf_first.end(), frames_.begin() + e.first_frame)) {
      e.counts += counts;
      total_ += counts;
      last_entry_ = i;
      return true;
    }
  }
  if (entries_.size() >= max_unique_stacks_) {
    if (bucket.empty()) index_.erase(h);
    dropped_samples_ += counts.samples;
    dropped_off_cpu_ns_ += counts.blocked_ns + counts.runnable_ns;
    last_entry_ = UINT32_MAX;
    return false;
  }
  Entry e;
  e.origin = origin;
  e.first_frame = static_cast<uint32_t>(frames_.size());
  e.frame_count = static_cast<uint32_t>(leaf_first.size());
  e.counts = counts;
  frames_.insert(frames_.end(), leaf_first.begin(), leaf_first.end());
  last_entry_ = static_cast<uint32_t>(entries_.size());
  bucket.push_back(last_entry_);
  entries_.push_back(e);
  total_ += counts;
  return true;
}

void RawProfile::note_time(int64_t time_ns) {
  if (last_entry_ == UINT32_MAX) return;
  if (timeline_stacks_.size() >= max_timeline_samples_) {
    if (max_timeline_samples_ != 0) ++timeline_dropped_;
    return;
  }
  timeline_times_.push_back(time_ns);
  timeline_stacks_.push_back(last_entry_);
}

size_t RawProfile::memory_bytes() const {
  return timeline_times_.capacity() * sizeof(int64_t) + timeline_stacks_.capacity() * sizeof(uint32_t) +
         frames_.capacity() * sizeof(RawFrame) + entries_.capacity() * sizeof(Entry) +
         index_.size() * (sizeof(uint64_t) + sizeof(std::vector<uint32_t>) + 32) +
         modules_.capacity() * sizeof(void*) + module_index_.size() * 32 +
         python_frames_.capacity() * sizeof(PythonFrame) +
         python_index_.size() * (sizeof(PythonFrame) + sizeof(uint32_t) + 24);
}

void RawProfile::merge(const RawProfile& other) {
  std::vector<ModuleId> module_map(other.modules_.size());
  for (size_t i = 0; i < other.modules_.size(); ++i) module_map[i] = add_module(other.modules_[i]);
  // Python frames are indices into other's table: re-interned here, each once.
  constexpr uint32_t kNotMapped = UINT32_MAX;
  constexpr uint32_t kTableFull = UINT32_MAX - 1;
  std::vector<uint32_t> python_map(other.python_frames_.size(), kNotMapped);
  auto python_index = [&](uint64_t index) -> uint32_t {
    if (index >= python_map.size()) return kTableFull;  // cannot happen: other made it
    uint32_t& slot = python_map[index];
    if (slot == kNotMapped) {
      const PythonFrame& f = other.python_frames_[index];
      slot = add_python_frame(other.str(f.function), other.str(f.file), f.line, f.first_line)
                 .value_or(kTableFull);
    }
    return slot;
  };
  std::vector<RawFrame> frames;
  // Which of this profile's entries each of other's entries went to, for its timeline.
  std::vector<uint32_t> entry_map;
  entry_map.reserve(other.entries_.size());
  other.for_each_stack([&](const SampleOrigin& o, std::span<const RawFrame> stack,
                           const RawStackCounts& counts) {
    entry_map.push_back(UINT32_MAX);
    frames.clear();
    for (const RawFrame& f : stack) {
      if (f.module.valid() && other.module(f.module).kind == MappingKind::kPython) {
        uint32_t index = python_index(f.offset);
        if (index == kTableFull) {
          dropped_samples_ += counts.samples;  // this profile's Python frame bound
          return;
        }
        frames.push_back(RawFrame{module_map[f.module.value], index});
        continue;
      }
      frames.push_back(RawFrame{f.module.valid() ? module_map[f.module.value] : ModuleId{}, f.offset});
    }
    SampleOrigin origin{o.pid, o.tid, intern(other.str(o.comm)), intern(other.str(o.thread_comm)),
                        intern(other.str(o.service))};
    if (add(origin, frames, counts)) entry_map.back() = last_entry_;
  });
  merge_timeline(other, entry_map);
  dropped_samples_ += other.dropped_samples_;
  dropped_off_cpu_ns_ += other.dropped_off_cpu_ns_;
  off_cpu = off_cpu || other.off_cpu;
  if (start_time_ns == 0 || (other.start_time_ns != 0 && other.start_time_ns < start_time_ns)) {
    start_time_ns = other.start_time_ns;
  }
  end_time_ns = std::max(end_time_ns, other.end_time_ns);
  if (period_ns == 0) period_ns = other.period_ns;
  if (event.empty()) event = other.event;
  if (!main_module.valid() && other.main_module.valid()) {
    main_module = module_map[other.main_module.value];
  }
}

void RawProfile::merge_timeline(const RawProfile& other, std::span<const uint32_t> entry_map) {
  if (other.timeline_stacks_.empty()) {
    timeline_dropped_ += other.timeline_dropped_;
    return;
  }
  std::vector<TimedSample> merged;
  merged.reserve(timeline_stacks_.size() + other.timeline_stacks_.size());
  for (size_t i = 0; i < timeline_stacks_.size(); ++i) merged.push_back({timeline_times_[i], timeline_stacks_[i]});
  std::vector<TimedSample> theirs;
  theirs.reserve(other.timeline_stacks_.size());
  for (size_t i = 0; i < other.timeline_stacks_.size(); ++i) {
    theirs.push_back({other.timeline_times_[i], other.timeline_stacks_[i]});
  }
  std::vector<uint32_t> own(entries_.size());
  for (uint32_t i = 0; i < own.size(); ++i) own[i] = i;
  // Map other's entries to this profile's; those dropped at the stack bound leave the timeline.
  std::vector<uint32_t> map(entry_map.begin(), entry_map.end());
  for (uint32_t& m : map) {
    if (m == UINT32_MAX) m = static_cast<uint32_t>(own.size());  // out of range: left out
  }
  std::vector<TimedSample> mapped;
  append_timeline(mapped, theirs, map);
  std::vector<TimedSample> out;
  out.reserve(merged.size() + mapped.size());
  append_timeline(out, merged, own);
  size_t left_out = append_timeline(out, mapped, own);
  if (out.size() > max_timeline_samples_) {
    left_out += out.size() - max_timeline_samples_;
    out.resize(max_timeline_samples_);
  }
  timeline_dropped_ += left_out + other.timeline_dropped_;
  timeline_times_.clear();
  timeline_stacks_.clear();
  for (const TimedSample& t : out) {
    timeline_times_.push_back(t.time_ns);
    timeline_stacks_.push_back(t.sample);
  }
}

void RawProfile::clear() {
  strings_ = StringTable();
  modules_.clear();
  module_index_.clear();
  frames_.clear();
  entries_.clear();
  index_.clear();
  python_frames_.clear();
  python_index_.clear();
  total_ = {};
  last_entry_ = UINT32_MAX;
  timeline_times_.clear();
  timeline_stacks_.clear();
  timeline_dropped_ = 0;
  dropped_samples_ = 0;
  dropped_off_cpu_ns_ = 0;
  main_module = ModuleId{};
  start_time_ns = end_time_ns = 0;
}

}  // namespace ember::profile
