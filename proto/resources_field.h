#pragma once
// Process resources (profile::Profile::resources) in a pprof file: one more extra top-level
// field, number kResourcesFieldNumber, which pprof and other protobuf readers skip as unknown
// (as they skip the timeline, proto/timeline_field.h). emberd's snapshots carry them, so that
// the resources survive restarts and a lost summary is rebuilt from the snapshot alone.
//
// The field holds one message per process (the field repeated), each of varint fields:
//   1 pid (zigzag)  2 time_ns  3 rss_bytes  4 threads
//   5 cpu_user_ns  6 cpu_system_ns  7 voluntary  8 involuntary     (since the process started)
//   9 io_read_bytes  10 io_write_bytes                             (present when readable)
//   11..14 as 5..8, and 15, 16 as 9, 10, during the window         (present when known)
// Unknown fields inside a message are skipped: a newer ember may add some.

#include <string>
#include <string_view>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::proto {

inline constexpr uint32_t kResourcesFieldNumber = 1001;
// More processes than emberd ever reads in one window is not a snapshot of ours.
inline constexpr size_t kMaxResourceProcesses = 65536;

// Appends the fields to `out` (nothing when there are no resources).
void encode_resources(const profile::Profile& profile, std::string& out);

// Decodes one field's payload (one process) and appends it to profile.resources. Errors say
// what is wrong, without the source.
[[nodiscard]] Result<void> decode_resources(std::string_view payload, profile::Profile& profile);

}  // namespace ember::proto
