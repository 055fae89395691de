#include "profile/timeline.h"

#include <algorithm>
#include <unordered_map>

namespace ember::profile {

namespace {
bool by_time(const TimedSample& a, const TimedSample& b) { return a.time_ns < b.time_ns; }
}  // namespace

size_t append_timeline(std::vector<TimedSample>& to, std::span<const TimedSample> from,
                       std::span<const uint32_t> sample_map) {
  const size_t old_size = to.size();
  size_t left_out = 0;
  for (const TimedSample& t : from) {
    if (t.sample >= sample_map.size() || sample_map[t.sample] == kNotKept ||
        to.size() >= kMaxTimelineSamples) {
      ++left_out;
      continue;
    }
    to.push_back(TimedSample{t.time_ns, sample_map[t.sample]});
  }
  // Two sorted runs (windows of one recording, or recordings of one range) stay sorted.
  auto middle = to.begin() + static_cast<std::ptrdiff_t>(old_size);
  if (std::is_sorted(to.begin(), middle, by_time) && std::is_sorted(middle, to.end(), by_time)) {
    std::inplace_merge(to.begin(), middle, to.end(), by_time);
  }
  return left_out;
}

std::vector<ThreadTimeline> timeline_by_thread(const Profile& profile) {
  std::vector<ThreadTimeline> threads;
  std::unordered_map<int64_t, size_t> index;
  std::vector<TimedSample> ordered = profile.timeline;
  std::stable_sort(ordered.begin(), ordered.end(), by_time);
  for (const TimedSample& t : ordered) {
    if (t.sample >= profile.samples.size()) continue;
    const Sample& s = profile.samples[t.sample];
    int64_t tid = profile.num_label(s, kLabelTid).value_or(profile.num_label(s, kLabelPid).value_or(0));
    auto [it, inserted] = index.try_emplace(tid, threads.size());
    if (inserted) threads.push_back(ThreadTimeline{tid, t.sample, {}});
    threads[it->second].samples.push_back(t);
  }
  return threads;
}

}  // namespace ember::profile
