#pragma once
// What a process used, read beside its profile: emberd reads /proc for each profiled process
// when it seals a window and keeps the figures in the snapshot (proto/resources_field.h).
// Plain numbers: where they come from is the daemon's business, not the model's.

#include <cstdint>

namespace ember::profile {

// Counters that only grow over a process's life.
struct ResourceCounters {
  int64_t cpu_user_ns = 0;
  int64_t cpu_system_ns = 0;
  int64_t io_read_bytes = 0;   // bytes the process made the kernel fetch from storage
  int64_t io_write_bytes = 0;  // bytes it sent towards storage
  int64_t voluntary_ctx_switches = 0;    // it gave up the CPU (waited)
  int64_t involuntary_ctx_switches = 0;  // the scheduler took the CPU from it
  constexpr bool operator==(const ResourceCounters&) const = default;
  constexpr ResourceCounters& operator+=(const ResourceCounters& o) {
    cpu_user_ns += o.cpu_user_ns;
    cpu_system_ns += o.cpu_system_ns;
    io_read_bytes += o.io_read_bytes;
    io_write_bytes += o.io_write_bytes;
    voluntary_ctx_switches += o.voluntary_ctx_switches;
    involuntary_ctx_switches += o.involuntary_ctx_switches;
    return *this;
  }
};

struct ProcessResources {
  int32_t pid = 0;
  int64_t time_ns = 0;  // when it was read (wall clock, Unix epoch)
  int64_t rss_bytes = 0;
  int64_t threads = 0;
  bool has_io = false;  // the I/O counters could be read (/proc/PID/io needs ptrace access)
  ResourceCounters total;  // since the process started
  // Used during the snapshot's window: since the previous reading of the same process, or
  // since it started when it started after that. Unknown (has_interval false) for a process
  // first read that was already running before the window.
  bool has_interval = false;
  ResourceCounters interval;
  constexpr bool operator==(const ProcessResources&) const = default;
};

}  // namespace ember::profile
