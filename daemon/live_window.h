#pragma once
// The window being recorded now, shared between the collector thread (which adds to it about
// once a second), the snapshot writer (which seals it every interval) and queries (which read
// it). Holds addresses, not names: symbolization happens when a window is sealed or queried.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "daemon/units.h"
#include "profile/raw_profile.h"

namespace ember::daemon {

class LiveWindow {
 public:
  // max_unique_stacks bounds each window; past it samples are dropped and counted.
  explicit LiveWindow(size_t max_unique_stacks);

  // Collector thread: adds what the Recorder collected since the last call.
  void add(const profile::RawProfile& part);

  struct Sealed {
    std::shared_ptr<const profile::RawProfile> raw;
    UnixNanos start = 0;  // when the window began (the previous seal)
    UnixNanos end = 0;    // when it was sealed
  };
  // Writer thread: ends the current window and starts the next one. The sealed window stays
  // visible to queries until release_sealed(), so that no sample is missing from answers
  // while it is being symbolized and written. At most one window is sealed at a time.
  Sealed seal(UnixNanos now);
  void release_sealed();

  // Queries: the sealed window (if any) and the current one, copied (as immutable shares) so
  // that symbolizing them does not hold the lock. `generation` changes with every add/seal.
  struct View {
    std::shared_ptr<const profile::RawProfile> sealed;
    UnixNanos sealed_start = 0, sealed_end = 0;
    std::shared_ptr<const profile::RawProfile> current;
    UnixNanos current_start = 0, current_end = 0;
    uint64_t generation = 0;
  };
  View view() const;

  void set_max_unique_stacks(size_t max);
  uint64_t generation() const;
  size_t unique_stacks() const;
  size_t memory_bytes() const;

 private:
  mutable std::mutex mutex_;
  size_t max_unique_stacks_;
  profile::RawProfile current_;
  UnixNanos current_start_;
  UnixNanos current_end_;
  // A copy handed to queries, rebuilt only when a query asks after a change: copying every
  // second for nobody would cost CPU on a host nobody looks at.
  mutable std::shared_ptr<const profile::RawProfile> current_copy_;
  mutable uint64_t current_copy_generation_ = 0;
  std::shared_ptr<const profile::RawProfile> sealed_;
  UnixNanos sealed_start_ = 0, sealed_end_ = 0;
  uint64_t generation_ = 1;
};

}  // namespace ember::daemon
