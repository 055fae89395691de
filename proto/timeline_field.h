#pragma once
// The timeline (profile::Profile::timeline) in a pprof file. profile.proto has no place for
// per-sample times, so ember writes them in one extra top-level field, number
// kTimelineFieldNumber, which pprof, Go's tools and every protobuf reader skip as an unknown
// field: the file stays a valid pprof profile with the same aggregated samples.
//
// The field is a message of two packed varint fields of equal length:
//   1: the sample index of each timed sample (index into the Profile's samples, in file order)
//   2: each time as the zigzag-encoded difference from the previous one (the first from
//      Profile::time_nanos)
// A sample at 99 Hz costs 1-2 bytes of index and 4 bytes of time before gzip.

#include <string>
#include <string_view>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::proto {

inline constexpr uint32_t kTimelineFieldNumber = 1000;

// Appends the field to `out` (nothing when the timeline is empty). Fails when a timed sample
// refers to a sample the profile does not have.
[[nodiscard]] Result<void> encode_timeline(const profile::Profile& profile, std::string& out);

// Decodes the field's payload into profile.timeline; the profile's samples must be decoded
// already. At most `max_samples` are kept. Errors say what is wrong, without the source.
[[nodiscard]] Result<void> decode_timeline(std::string_view payload, profile::Profile& profile,
                                           size_t max_samples);

}  // namespace ember::proto
