#pragma once
// Opening perf events: which event (hardware cycles when the machine has them, else the
// cpu-clock software timer), how it is configured, and the fallbacks a perf user expects
// (no kernel frames when they are not permitted, no build-ids in MMAP2 on old kernels, a
// frequency clamped to what the kernel allows). <linux/perf_event.h> stays in the .cpp.

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "collector/record_decoder.h"
#include "collector/unwinder.h"
#include "common/error.h"
#include "common/unique_fd.h"

namespace ember::collector {

struct EventSpec {
  bool hardware_cycles = true;  // else software cpu-clock
  // --off-cpu: the context-switches software event instead, sampled at every switch-out (with
  // the same callchain, registers and stack copy as CPU samples) and with attr.context_switch
  // (SWITCH records: switch-in times and the preempted flag).
  bool context_switches = false;
  // A dummy software event: no samples, the side-band records only (per-CPU sampling of chosen
  // processes opens one per target thread when there are no switch events to carry them).
  bool dummy = false;
  // MMAP2/COMM/TASK side-band records, which keep the process table current: from the CPU
  // events, except per-CPU events of chosen processes (they would bring every process's).
  bool side_band = true;
  uint32_t frequency_hz = 999;
  bool kernel_frames = true;
  bool build_id = true;  // attr.build_id: MMAP2 records carry build-ids (Linux 5.12+)
  uint16_t max_stack = 127;
  PerfSampleNeeds needs;
  // Per open:
  bool inherit = false;
  bool enable_on_exec = false;
  bool start_disabled = true;
  uint32_t wakeup_bytes = 0;  // wake a poller when this much is in the ring; 0: at every sample

  std::string name() const {
    return dummy ? "dummy" : context_switches ? "context-switches" : hardware_cycles ? "cycles" : "cpu-clock";
  }
  // The sample layout these events produce (for the decoder).
  SampleFormat sample_format() const;
};

// perf_event_open with the spec; the error is the errno.
[[nodiscard]] std::expected<common::UniqueFd, int> open_event(const EventSpec& spec, pid_t pid, int cpu);

// Opens the first event of a recording, adjusting `spec` until the kernel accepts it. Each
// adjustment that the user should know about is appended to `warnings`; why the event is what
// it is goes to `event_note`. The error is the errno of the last attempt.
[[nodiscard]] std::expected<common::UniqueFd, int> negotiate_event(EventSpec& spec, pid_t pid, int cpu,
                                                     std::vector<std::string>& warnings,
                                                     std::string& event_note);

// ioctls on an event fd.
[[nodiscard]] Result<void> redirect_output(const common::UniqueFd& fd, const common::UniqueFd& ring_fd);
[[nodiscard]] Result<void> enable_event(const common::UniqueFd& fd);
void disable_event(const common::UniqueFd& fd);
std::optional<uint64_t> event_id(const common::UniqueFd& fd);
// The nanoseconds the event has been enabled (nullopt when it cannot be read).
std::optional<uint64_t> event_enabled_ns(const common::UniqueFd& fd);

// Current limits, read from /proc/sys/kernel.
std::optional<int64_t> perf_event_paranoid();
uint32_t max_sample_rate();  // perf_event_max_sample_rate; 100000 when unreadable
uint16_t max_stack_depth();  // perf_event_max_stack, capped to the attr field's 16 bits

}  // namespace ember::collector
