#pragma once
// The sample types of ember's recordings, as pprof names them (type/unit), and the values of a
// raw stack in that order. One place, so that the collector's profiles, the daemon's answers and
// the folding of off-CPU time agree:
//
//   samples/count          CPU samples taken
//   cpu/nanoseconds        on-CPU time (the samples' periods)
//   with --off-cpu also:
//   blocked/nanoseconds    off CPU, asleep: waiting for I/O, a futex, poll, a sleep
//   runnable/nanoseconds   off CPU while runnable: preempted, waiting for a CPU
//   off_cpu/nanoseconds    blocked + runnable
//   wall/nanoseconds       cpu + off_cpu: where the threads' wall-clock time went (the default)

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "profile/raw_profile.h"

namespace ember::profile {

inline constexpr std::string_view kSampleTypeSamples = "samples";
inline constexpr std::string_view kSampleTypeCpu = "cpu";
inline constexpr std::string_view kSampleTypeBlocked = "blocked";
inline constexpr std::string_view kSampleTypeRunnable = "runnable";
inline constexpr std::string_view kSampleTypeOffCpu = "off_cpu";
inline constexpr std::string_view kSampleTypeWall = "wall";

// The leaf frames that mark off-CPU time in folded stacks and flamegraphs.
inline constexpr std::string_view kBlockedFrame = "[off-cpu: blocked]";
inline constexpr std::string_view kRunnableFrame = "[off-cpu: runnable]";
// Frames standing for a stack nobody saw (collector pseudo-modules are named like this).
inline constexpr std::string_view kOffCpuFramePrefix = "[off-cpu";
inline bool is_off_cpu_frame(std::string_view name) { return name.starts_with(kOffCpuFramePrefix); }

using SampleTypeName = std::pair<std::string_view, std::string_view>;  // type, unit

// The sample types of a recording, with or without off-CPU time.
std::span<const SampleTypeName> recording_sample_types(bool off_cpu);
// The pprof default: samples for CPU recordings, wall with off-CPU time.
std::string_view recording_default_sample_type(bool off_cpu);
// A raw stack's values in the order of recording_sample_types(off_cpu); `out` has room for 6.
size_t recording_values(const RawStackCounts& counts, bool off_cpu, std::span<int64_t> out);

}  // namespace ember::profile
