#pragma once
// Time order of samples: the bound on how many a recording keeps, and merging timelines.
//
// Cost: a RawProfile keeps 12 bytes per sample (an 8-byte time and a 4-byte stack id, in two
// arrays); a pprof file 5-7 bytes (delta-coded varints, before gzip). At the bound,
// kMaxTimelineSamples, that is 24 MiB in memory: 99 Hz on 8 busy threads for 44 minutes.
// Past it, further samples still count in the aggregated stacks but not in the timeline, and
// the number left out is reported (RawProfile::timeline_dropped()).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "profile/profile.h"

namespace ember::profile {

inline constexpr size_t kMaxTimelineSamples = size_t{1} << 21;  // 2,097,152 samples

// A sample_map entry for a sample that was left out (filtered): its timed samples go too.
inline constexpr uint32_t kNotKept = UINT32_MAX;

// Appends `from` to `to` with sample indices mapped through `sample_map` (entries out of its
// range or kNotKept are skipped), keeping `to` sorted by time when both were, and at most
// kMaxTimelineSamples long (the earliest are kept). Returns how many were left out.
size_t append_timeline(std::vector<TimedSample>& to, std::span<const TimedSample> from,
                       std::span<const uint32_t> sample_map);

// The profile's timeline split by thread (the tid label, else pid, else 0), each in time order,
// threads ordered by their first sample.
struct ThreadTimeline {
  int64_t tid = 0;
  uint32_t first_sample = 0;  // a sample of the thread, for its labels
  std::vector<TimedSample> samples;
};
std::vector<ThreadTimeline> timeline_by_thread(const Profile& profile);

}  // namespace ember::profile
