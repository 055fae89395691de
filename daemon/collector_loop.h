#pragma once
// The collector thread: owns the Recorder (which is single-threaded), polls it, and moves what
// it collected into the LiveWindow about once a second. The Recorder is replaced when the
// targets or the sampling settings change (SIGHUP), without losing what was collected.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collector/recorder.h"
#include "common/error.h"
#include "daemon/config.h"
#include "daemon/live_window.h"
#include "daemon/process_resources.h"

namespace ember::daemon {

struct CollectorSettings {
  TargetConfig targets;
  ProfilingConfig profiling;
  bool operator==(const CollectorSettings&) const = default;
};

// What /metrics, /healthz and logs show about sampling. Counters add up over Recorder restarts.
struct CollectorStatus {
  collector::CollectorStats stats;  // counters summed over every Recorder; gauges of the current one
  std::string event;                // "cpu-clock"
  uint32_t frequency_hz = 0;        // in effect, after clamping
  std::string call_graph;           // "dwarf" or "fp" (in effect: fp after a DWARF fallback)
  bool off_cpu = false;             // off-CPU time is recorded (profiling.off_cpu, and the kernel allows it)
  std::string targets;              // describe_targets()
  uint64_t restarts = 0;            // Recorders replaced by reloads
  ResourceReadStats resources;      // processes read for their resources, and those that could not be
  bool running = false;
};

class CollectorLoop {
 public:
  explicit CollectorLoop(LiveWindow& live);
  ~CollectorLoop();
  CollectorLoop(const CollectorLoop&) = delete;
  CollectorLoop& operator=(const CollectorLoop&) = delete;

  // Starts the thread and the first Recorder; the error says why sampling cannot start.
  // DWARF unwinding that is not available falls back to frame pointers, with a warning.
  [[nodiscard]] Result<void> start(const CollectorSettings& settings);
  // Replaces the Recorder with one for `settings` (another thread calls this; it waits for the
  // answer). On error the old Recorder keeps running.
  [[nodiscard]] Result<void> reconfigure(const CollectorSettings& settings);
  // Stops sampling and moves everything collected into the live window. Idempotent.
  void stop();

  CollectorStatus status() const;

  // At snapshot time (the writer thread, once the window is sealed): the resources of the
  // window's busiest processes (ResourceReader::kMaxProcesses of them), as they are now.
  std::vector<profile::ProcessResources> read_resources(const profile::RawProfile& window, UnixNanos window_start);

 private:
  struct Request {
    CollectorSettings settings;
    std::optional<Result<void>> answer;
  };
  void run();
  [[nodiscard]] Result<std::unique_ptr<collector::Recorder>> open(const CollectorSettings& settings,
                                                    std::string& call_graph_in_effect);
  void flush(collector::Recorder& rec);
  void publish(const collector::Recorder& rec);
  void retire(collector::Recorder& rec);

  LiveWindow& live_;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<Request> request_;  // a reconfiguration waiting for the thread
  CollectorStatus status_;
  collector::CollectorStats retired_;  // counters of Recorders already replaced
  std::string call_graph_;

  std::unique_ptr<collector::Recorder> recorder_;  // only the collector thread touches it

  std::mutex resources_mutex_;  // resources_ (read by the writer thread, not the collector's)
  ResourceReader resources_;
};

// Turns the settings into the collector's options (bounds, filter).
[[nodiscard]] Result<collector::RecordOptions> record_options(const CollectorSettings& settings);

}  // namespace ember::daemon
