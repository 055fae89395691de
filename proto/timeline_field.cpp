#include "proto/timeline_field.h"

#include <fmt/format.h>

#include "proto/wire.h"

namespace ember::proto {

namespace {

using wire::unzigzag;
using wire::zigzag;

}  // namespace

Result<void> encode_timeline(const profile::Profile& profile, std::string& out) {
  if (profile.timeline.empty()) return {};
  std::string samples;
  std::string times;
  int64_t previous = profile.time_nanos;
  for (size_t i = 0; i < profile.timeline.size(); ++i) {
    const profile::TimedSample& t = profile.timeline[i];
    if (t.sample >= profile.samples.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("timed sample {} refers to sample {}, but the profile has {}",
                                    i, t.sample, profile.samples.size()));
    }
    wire::put_varint(samples, t.sample);
    // Wrapping subtraction: the decoder adds back with the same wrap, so any times round-trip.
    wire::put_varint(times, zigzag(static_cast<int64_t>(static_cast<uint64_t>(t.time_ns) -
                                                        static_cast<uint64_t>(previous))));
    previous = t.time_ns;
  }
  std::string message;
  wire::put_bytes_field(message, 1, samples);
  wire::put_bytes_field(message, 2, times);
  wire::put_bytes_field(out, kTimelineFieldNumber, message);
  return {};
}

Result<void> decode_timeline(std::string_view payload, profile::Profile& profile, size_t max_samples) {
  std::string_view samples;
  std::string_view times;
  wire::Reader reader(payload);
  while (!reader.done()) {
    auto field = reader.next();
    if (!field) return make_error(ErrorCode::kMalformed, "ember timeline: " + field.error().message());
    if (field->wire_type != wire::kLengthDelimited) continue;  // a newer ember's extra: skipped
    if (field->number == 1) samples = field->bytes;
    if (field->number == 2) times = field->bytes;
  }
  std::vector<profile::TimedSample> timeline;
  size_t count = 0;
  auto counted = wire::for_each_packed_varint(samples, [&](uint64_t) { ++count; });
  if (!counted) return make_error(ErrorCode::kMalformed, "ember timeline: sample indices: " + counted.error().message());
  timeline.reserve(std::min(count, max_samples));
  size_t index = 0;
  bool bad_index = false;
  auto ok = wire::for_each_packed_varint(samples, [&](uint64_t v) {
    if (v >= profile.samples.size()) bad_index = true;
    if (timeline.size() < max_samples) timeline.push_back(profile::TimedSample{0, static_cast<uint32_t>(v)});
    ++index;
  });
  if (!ok || bad_index) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("ember timeline: a timed sample refers to a sample beyond the {} "
                                  "the profile has", profile.samples.size()));
  }
  size_t time_count = 0;
  uint64_t previous = static_cast<uint64_t>(profile.time_nanos);
  auto timed = wire::for_each_packed_varint(times, [&](uint64_t v) {
    previous += static_cast<uint64_t>(unzigzag(v));
    if (time_count < timeline.size()) timeline[time_count].time_ns = static_cast<int64_t>(previous);
    ++time_count;
  });
  if (!timed) return make_error(ErrorCode::kMalformed, "ember timeline: times: " + timed.error().message());
  if (time_count != count) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("ember timeline: {} sample indices but {} times", count, time_count));
  }
  profile.timeline = std::move(timeline);
  return {};
}

}  // namespace ember::proto
