#include "profile/sample_types.h"

#include <array>

namespace ember::profile {

namespace {

constexpr std::array<SampleTypeName, 6> kTypes = {{
    {kSampleTypeSamples, "count"},
    {kSampleTypeCpu, "nanoseconds"},
    {kSampleTypeBlocked, "nanoseconds"},
    {kSampleTypeRunnable, "nanoseconds"},
    {kSampleTypeOffCpu, "nanoseconds"},
    {kSampleTypeWall, "nanoseconds"},
}};

int64_t clamp(uint64_t v) { return v > INT64_MAX ? INT64_MAX : static_cast<int64_t>(v); }

}  // namespace

std::span<const SampleTypeName> recording_sample_types(bool off_cpu) {
  return std::span<const SampleTypeName>(kTypes.data(), off_cpu ? 6 : 2);
}

std::string_view recording_default_sample_type(bool off_cpu) {
  return off_cpu ? kSampleTypeWall : kSampleTypeSamples;
}

size_t recording_values(const RawStackCounts& c, bool off_cpu, std::span<int64_t> out) {
  out[0] = clamp(c.samples);
  out[1] = clamp(c.weight);
  if (!off_cpu) return 2;
  out[2] = clamp(c.blocked_ns);
  out[3] = clamp(c.runnable_ns);
  out[4] = clamp(c.blocked_ns + c.runnable_ns);
  out[5] = clamp(c.weight + c.blocked_ns + c.runnable_ns);
  return 6;
}

}  // namespace ember::profile
