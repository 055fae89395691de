#pragma once
// What each profiled process used, read from /proc when a window is sealed: CPU user and system
// time, resident memory, threads, context switches (/proc/PID/stat and status) and storage I/O
// (/proc/PID/io, which needs ptrace access: where it cannot be read it is counted and left out).
// A process that exited before it was read is simply absent. The figures go into the snapshot
// (profile::Profile::resources) and its summary.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "daemon/units.h"
#include "profile/process_resources.h"
#include "profile/raw_profile.h"

namespace ember::daemon {

// /proc/PID/stat, the fields emberd uses. Times in clock ticks, rss in pages.
struct ProcStat {
  int32_t pid = 0;
  std::string comm;  // between the first '(' and the last ')': it may hold spaces and parentheses
  char state = 0;
  uint64_t utime_ticks = 0, stime_ticks = 0;
  int64_t threads = 0;
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};
// kMalformed naming the problem when the text is not a stat line.
[[nodiscard]] Result<ProcStat> parse_proc_stat(std::string_view text);

// /proc/PID/status: the lines emberd uses (a kernel thread has no VmRSS: 0).
struct ProcStatus {
  int64_t rss_bytes = 0;
  int64_t threads = 0;
  int64_t voluntary_ctx_switches = 0;
  int64_t involuntary_ctx_switches = 0;
};
[[nodiscard]] Result<ProcStatus> parse_proc_status(std::string_view text);

// /proc/PID/io: read_bytes and write_bytes (storage I/O, not every read() and write()).
struct ProcIo {
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
};
[[nodiscard]] Result<ProcIo> parse_proc_io(std::string_view text);

// The processes of a window worth reading: its busiest by samples, at most `max`.
std::vector<int32_t> busiest_processes(const profile::RawProfile& window, size_t max);

struct ResourceReadStats {
  uint64_t read = 0;           // processes read
  uint64_t exited = 0;         // gone (or unreadable) before they could be read
  uint64_t io_unreadable = 0;  // read without their I/O counters
  uint64_t over_bound = 0;     // profiled processes left out past kMaxProcesses
  ResourceReadStats& operator+=(const ResourceReadStats& o);
};

// Reads processes and remembers their last counters, so that each reading says what the
// process used since the previous one. Not thread-safe (its owner locks).
class ResourceReader {
 public:
  // The busiest processes read per window: three /proc files cost well under 0.1 ms of CPU a
  // process (0.5 ms for 8 on the 2-core test VM), so at most some 25 ms a snapshot.
  static constexpr size_t kMaxProcesses = 256;
  // Processes whose last reading is remembered; past this the oldest readings are forgotten.
  static constexpr size_t kMaxRemembered = 4096;

  // The clocks at the moment of reading: the wall clock, and CLOCK_BOOTTIME, the clock of
  // /proc/PID/stat's start time.
  struct Clocks {
    UnixNanos unix_ns = 0;
    int64_t boot_ns = 0;
    static Clocks now();
  };

  explicit ResourceReader(std::string proc_root = "/proc");

  // Reads `pids` for a window that began at `window_start`, in the given order.
  std::vector<profile::ProcessResources> read(std::span<const int32_t> pids, UnixNanos window_start,
                                              const Clocks& clocks, ResourceReadStats& stats);

 private:
  struct Last {
    uint64_t start_ticks = 0;
    profile::ResourceCounters total;
    bool has_io = false;
    uint64_t round = 0;
  };
  std::string root_;
  int64_t tick_ns_;
  std::unordered_map<int32_t, Last> last_;
  uint64_t round_ = 0;
};

}  // namespace ember::daemon
