#pragma once
// The collector's public API: sample processes with perf_event_open and hand out
// profile::RawProfile windows (stacks of (module, offset), never names).
//
//   auto rec = Recorder::start(target, options);      // errors are one clear line
//   while (*rec->poll(100ms)) { ...progress from rec->stats()... }
//   rec->stop();
//   profile::RawProfile p = rec->take_profile();
//
// The Recorder is single-threaded: call every method from the thread that polls.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "collector/call_graph.h"
#include "collector/collector_stats.h"
#include "collector/off_cpu_stacks.h"
#include "collector/process_info.h"
#include "collector/python_stacks.h"
#include "collector/record_decoder.h"
#include "common/error.h"
#include "profile/raw_profile.h"

namespace ember::collector {

inline constexpr uint32_t kDefaultFrequencyHz = 999;

// What to sample: exactly one of the three.
struct Target {
  // -p: every thread of each process, threads created later, and children it forks.
  std::vector<int32_t> pids;
  // -a: one event per online CPU, every process.
  bool system_wide = false;
  // -- CMD ARGS: launched, events enabled when it execs, recorded until it exits.
  std::vector<std::string> command;
};

// How the CPU of chosen processes (-p, a launched command) is sampled.
// - kPerThread: an event per target thread (and CPU), as `perf record -p` does. The kernel
//   starts and stops its timer at every context switch of the thread: a thread switching 50,000
//   times a second is slowed by a fifth (docs/benchmarks.md, off-CPU).
// - kPerCpu: one timer per CPU, whichever thread runs; the sample program (python/bpf) drops
//   the samples of every other process in the kernel, before they are written, and keeps those
//   of the targets and their descendants. Per-thread events carry only the side-band records
//   (maps, comms, exits; with --off-cpu the switch events do). Needs CAP_PERFMON and CAP_BPF
//   (or root), and costs a timer interrupt per CPU and period even on CPUs the targets leave idle.
// - kAuto: per CPU with --off-cpu (its targets switch often, by nature) when the kernel allows
//   it, else per thread.
enum class Sampling { kAuto, kPerCpu, kPerThread };

struct RecordOptions {
  uint32_t frequency_hz = kDefaultFrequencyHz;  // clamped to kernel.perf_event_max_sample_rate
  Sampling sampling = Sampling::kAuto;  // -p and commands; -a is always per CPU
  // DWARF by default: complete stacks of programs built without frame pointers (Debian's).
  CallGraphMode call_graph = CallGraphMode::kDwarf;
  // User stack bytes copied per sample for kDwarf: a multiple of 8, at most 65528. perf's
  // default of 8 KiB cuts deep stacks short.
  uint32_t stack_size = 32768;
  DwarfEngine dwarf_engine = DwarfEngine::kCompiled;
  bool kernel_frames = true;    // falls back to user-only, with a warning, when not permitted
  size_t buffer_bytes_per_cpu = 0;  // ring size; 0: chosen by call-graph mode
  size_t max_unique_stacks = 1 << 20;  // per window; past it samples are counted as dropped
  size_t max_processes = 32768;        // process-table bound (churn must not grow memory)
  // --off-cpu: also the time threads spend off CPU, blocked or waiting for one (context-switch
  // events; see off_cpu_stacks.h). When the kernel refuses them, a warning and CPU samples only.
  bool off_cpu = false;
  uint64_t off_cpu_threshold_ns = kDefaultOffCpuThresholdNs;
  // Records only the processes it accepts; asked when a process is first seen and after exec.
  std::function<bool(const ProcessInfo&)> process_filter;
  // Python frames in the stacks of CPython processes (see python_stacks.h); --no-python: false.
  PythonOptions python;
};

// Perf records kept as a ring holds them, back to back, replayed through everything a live
// recording does after reading its rings: decoding, time order, processes, unwinding, windows.
// The golden pipeline test replays a checked-in stream (tests/golden/).
struct Replay {
  SampleFormat format;                  // the layout of the events' samples
  std::span<const std::byte> records;
  std::string proc_root = "/proc";      // where the processes' files are looked up
  std::string event_name = "cpu-clock";
  uint32_t frequency_hz = kDefaultFrequencyHz;
};

class Recorder {
 public:
  // Opens the events and starts sampling. Errors name the process, command or permission.
  [[nodiscard]] static Result<std::unique_ptr<Recorder>> start(const Target& target, const RecordOptions& options);
  // Replays `replay.records` whole (see Replay); take_profile() and stats() then hold the
  // result. An error names the record (index and byte offset) that cannot be a record.
  [[nodiscard]] static Result<std::unique_ptr<Recorder>> replay(const Replay& replay, const RecordOptions& options);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // "cycles" or "cpu-clock".
  const std::string& event_name() const;
  // Chosen processes sampled by per-CPU events, filtered in the kernel (Sampling::kPerCpu).
  bool samples_per_cpu() const;
  // Why this event, e.g. "no hardware cycles event on this machine (...)".
  std::string_view event_note() const;
  // Adjustments made at start (frequency clamped, kernel frames not permitted, ...). Each is
  // also logged once through spdlog::warn.
  const std::vector<std::string>& warnings() const;
  // The sampling frequency in effect (after clamping).
  uint32_t frequency_hz() const;

  // Reads and processes what the ring buffers hold, waiting up to `timeout` for data (and
  // working at most ~250 ms more when the rings fill faster than ember can process them).
  // Returns false once there is nothing left to record (every target has exited / the command
  // ended, or stop() was called); everything collected until then is kept. EINTR is not an
  // error: poll() returns true and the caller checks its own signal flags.
  [[nodiscard]] Result<bool> poll(std::chrono::milliseconds timeout);
  // Disables the events, drains and processes everything left (the reorder queue too). A
  // launched command still running gets SIGTERM (SIGKILL after 5 s) and is reaped.
  void stop();
  // The window so far, with its start/end wall-clock times, period, event and main module; a
  // new window starts.
  profile::RawProfile take_profile();
  const CollectorStats& stats() const;
  // With --off-cpu, while switch events are recorded: what happened to them.
  std::optional<OffCpuCounters> off_cpu_counters() const;
  // The launched command's wait status once reaped (see <sys/wait.h> WIFEXITED etc.).
  std::optional<int> command_wait_status() const;
  // The launched command's pid (0 when not launching).
  int32_t command_pid() const;

  class Impl;

 private:
  explicit Recorder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::collector
