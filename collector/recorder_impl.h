#pragma once
// The Recorder's state, shared by recorder.cpp (opening, reading, CPU samples) and
// recorder_off_cpu.cpp (--off-cpu's switch events). Private to the collector.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "collector/collector_stats.h"
#include "collector/command_launcher.h"
#include "collector/event_source.h"
#include "collector/module_cache.h"
#include "collector/off_cpu_stacks.h"
#include "collector/process_table.h"
#include "collector/python_stacks.h"
#include "collector/record_decoder.h"
#include "collector/recorder.h"
#include "collector/reorder_queue.h"
#include "collector/ring_buffer.h"
#include "collector/thread_dedup.h"
#include "collector/unwinder.h"
#include "common/unique_fd.h"

namespace ember::python {
class KernelReader;
}

namespace ember::collector {

// epoll data of a target's pidfd; other epoll data are indexes into events_.
inline constexpr uint64_t kPidfdTag = 1ull << 63;
// --off-cpu's switch rings: ~8,000 switch-outs with their 8 KiB stack copies, 160 ms at 50,000
// switches/s, so that a poller kept waiting by a busy machine loses none.
inline constexpr size_t kMaxSwitchRingBytes = 64u << 20;
// `requested` bytes rounded up to a power-of-two number of pages, at least a few (recorder_open.cpp).
size_t round_ring_bytes(size_t requested);

class Recorder::Impl final : public OffCpuHost {
 public:
  Impl(const RecordOptions& options, std::unique_ptr<UserUnwinder> user_unwinder, size_t max_held_files,
       const ProcFs& procfs = ProcFs());

  ~Impl() override { stop(); }

  Result<void> open(const Target& target);
  Result<bool> poll(std::chrono::milliseconds timeout);
  [[nodiscard]] Result<void> replay(const Replay& input);  // recorder_replay.cpp
  void stop();
  profile::RawProfile take_profile();
  const CollectorStats& stats();

  std::string event_name_;
  std::string event_note_;
  std::vector<std::string> warnings_;
  std::optional<LaunchedCommand> command_;

  uint32_t frequency_hz() const { return spec_.frequency_hz; }
  bool samples_per_cpu() const { return per_cpu_; }
  std::optional<OffCpuCounters> off_cpu_counters() const {
    return off_cpu_ ? std::optional(off_cpu_->counters()) : std::nullopt;
  }

 private:
  struct Event {
    common::UniqueFd fd;
    int cpu_index = 0;
    int32_t tid = -1;  // the thread it was opened for; -1 for per-CPU events
    bool switches = false;  // --off-cpu's context-switch event, in the CPU's switch ring
  };
  struct Watched {
    int32_t pid = 0;
    common::UniqueFd pidfd;
    bool exited = false;
  };

  [[nodiscard]] Result<void> open_system_wide();
  [[nodiscard]] Result<void> open_pids(const std::vector<int32_t>& pids);
  [[nodiscard]] Result<void> open_command(const std::vector<std::string>& argv);
  // Opens one event (disabled), and maps it as its CPU's ring or redirects it into that ring.
  // The error is the errno, so each mode can explain it in its own words.
  // Per-CPU sampling of chosen processes (per_cpu_): a thread's events are its side-band only
  // (open_side_band), and open_one(-1, ...) opens the CPU's filtered sampling event.
  [[nodiscard]] std::expected<size_t, int> open_one(pid_t pid, int cpu_index, int32_t tid);
  // The sampling event of every CPU, for chosen processes (per_cpu_). In Sampling::kAuto, when
  // the first cannot be opened, per_cpu_ is cleared and the threads get events of their own.
  [[nodiscard]] Result<void> open_target_cpus();
  // A target thread's events on a CPU when sampling per CPU: a dummy event for the side-band
  // records, in the CPU's ring (the index returned), and its switch event with --off-cpu.
  [[nodiscard]] std::expected<size_t, int> open_side_band(pid_t pid, int cpu_index, int32_t tid);
  [[nodiscard]] Result<void> add_ring(Event& event);
  Error pid_open_error(int32_t pid, int err) const;

  // Reads until the rings are empty or, when deadline_ns is not 0, the deadline has passed.
  // Returns the time up to which records may be applied: everything still in a ring is later.
  uint64_t read_rings(uint64_t deadline_ns);
  void on_raw_record(std::span<const std::byte> bytes);
  // `bytes`: the record as queued (a switch-out sample keeps them to be unwound at switch-in).
  void apply_record(const Record& rec, std::span<const std::byte> bytes);
  void on_sample(const SampleRecord& s);
  void unwind_sample(const SampleRecord& s, const Process& process, std::vector<UnwoundFrame>& out);
  // python_time: the sample's time, when its Python stack is to be merged in (CPU samples); 0 not.
  bool add_stack(Process& process, int32_t tid, std::span<const UnwoundFrame> frames,
                 const profile::RawStackCounts& counts, uint64_t python_time = 0);
  // raw_frames_ = `frames` as (module, offset) of the window.
  void to_raw_frames(Process& process, std::span<const UnwoundFrame> frames);
  bool add_raw_stack(Process& process, const Thread& thread, int32_t tid,
                     const profile::RawStackCounts& counts);
  // OffCpuHost
  bool unwind_switch_out(const SampleRecord& s, std::vector<UnwoundFrame>& out) override;
  PythonReadPtr take_python(const SampleRecord& s) override;
  void add_off_cpu(int32_t pid, int32_t tid, std::span<const UnwoundFrame> frames,
                   const std::shared_ptr<const profile::Module>& stand_in,
                   const profile::RawStackCounts& counts, const OffCpuPython& python) override;
  // The index of the event, or the errno: ESRCH (the thread exited), else a refusal, said once
  // (off_cpu_refused_: CPU samples only from then on).
  std::expected<size_t, int> open_switch_event(pid_t pid, int cpu_index, int32_t tid);
  // -a: once a second, opens again the events of CPUs that went offline and came back, and opens
  // events on CPUs that came online since the start (recorder_hotplug.cpp).
  void check_cpus(uint64_t now);
  [[nodiscard]] Result<void> open_cpu(size_t cpu_index);
  void start_off_cpu(const Target& target);
  void note_main_module();
  bool targets_ended();
  void drain();

  size_t default_ring_bytes() const;
  // Python frames wanted, read from user space right after each sample
  // (PythonOptions::wake_per_sample): not when the kernel reads them at the sample.
  bool python_wakes() const {
    return options_.python.enabled && options_.python.wake_per_sample && !python_.kernel_reads();
  }
  // Loads the sample program (python/kernel_reader.h) before any event is opened, when Python
  // stacks are read in the kernel (PythonOptions::reads) or samples are filtered there (per_cpu_).
  [[nodiscard]] Result<void> load_sample_program(const Target& target);
  // Attaches it to a sampling event (CPU samples or `switches`).
  [[nodiscard]] Result<void> attach_sample_program(int fd, bool switches);
  std::shared_ptr<python::KernelReader> sample_program_;
  // Chosen processes are sampled by per-CPU events, their samples kept by the sample program.
  bool per_cpu_ = false;
  // Why opening an event failed, when an errno does not say it: the sample program could not be
  // attached (--python-reads kernel, per-CPU sampling).
  std::optional<Error> open_error_;
  profile::ModuleId module_id(const Mapping& m);
  profile::ModuleId kernel_module_id();
  profile::ModuleId python_module_id();
  void note_for_python(const Record& rec);
  // Queues a sample with its stack copy cut short, written straight into the reorder queue.
  void queue_cut(const Record& sample, std::span<const std::byte> bytes, const StackCut& cut);
  void start_window();

  RecordOptions options_;
  EventSpec spec_;
  SampleFormat format_;
  std::vector<int> cpus_;
  size_t ring_bytes_ = 0;
  bool rings_shrunk_ = false;
  uint64_t last_record_time_ = 0;  // of the last record queued, while reading a ring
  std::vector<Event> events_;
  // Per-CPU sampling (-a, per_cpu_): per CPU index, the index into events_ of its sampling
  // event and the enabled time last read from it (the event is dead when it stops advancing).
  std::vector<size_t> cpu_event_;
  std::vector<uint64_t> cpu_enabled_ns_;
  uint64_t next_cpu_check_ = 0;
  std::vector<std::optional<MappedRing>> rings_;  // per CPU index
  std::vector<size_t> ring_owner_;                // per CPU index: index into events_
  // --off-cpu: switch events get rings of their own, so a flood of them cannot crowd out samples.
  std::vector<std::optional<MappedRing>> switch_rings_;
  std::vector<size_t> switch_ring_owner_;
  size_t switch_ring_bytes_ = 0;
  bool reading_switch_ring_ = false;
  std::unordered_set<uint64_t> switch_ids_;
  // Events wake the poller at every record (sample or switch) only in processes that run
  // CPython: their Python stack is read as the record leaves the ring, while the thread still
  // runs (or is still off CPU in) what the record caught (python_stacks.h). Elsewhere they wake
  // at quarter_ring_bytes_, like recordings without Python frames: a wake-up per sample is a
  // context switch of ember's for nothing, most of its CPU per DWARF sample (python_targets.h).
  // Set per target before its events are opened; -a and a command that starts CPython: all or
  // nothing (inherited events keep their parent's setting).
  bool wake_per_record_ = false;
  bool all_woken_ = false;
  std::unordered_set<int32_t> woken_pids_;  // -p: the processes opened so
  uint32_t quarter_ring_bytes_ = 0;
  uint32_t wakeup_bytes() const { return wake_per_record_ ? 0 : quarter_ring_bytes_; }
  // Until this CLOCK_MONOTONIC time, poll() returns at least every kPythonPoll, so samples are
  // read within about that of being taken:
  // - for good (UINT64_MAX), when a CPython appeared in a process whose events do not wake per
  //   record (a launched script or program that starts one) and user space reads its stacks:
  //   its blocks longer than that get their stacks too;
  // - for a while (kQuickPythonPollsNs) after the start and after a CPython is mapped, when the
  //   kernel reads Python stacks: it reads a CPython only once ember attached (on its first
  //   sample) and found each thread (on its first samples, read from user space), and those
  //   first samples should not wait a quarter ring.
  uint64_t python_polls_until_ns_ = 0;
  static constexpr uint64_t kQuickPythonPollsNs = 500'000'000;
  bool targets_python_ = false;  // a target runs CPython at the start (-a: may)
  void python_polls_for(uint64_t ns);
  // Rings smaller than asked for (locked-memory limits) may not wake ember before they fill:
  // poll() waits at most this long (open(): half a ring's worth of samples).
  std::chrono::milliseconds max_poll_wait_ = std::chrono::milliseconds::max();
  std::unique_ptr<OffCpuStacks> off_cpu_;  // set once a switch event is open
  bool off_cpu_refused_ = false;           // the kernel refused them: said once, CPU samples only
  common::UniqueFd epoll_;
  std::vector<Watched> watched_;

  ModuleCache modules_;
  ProcessTable processes_;
  Unwinder unwinder_;
  ReorderQueue reorder_;
  PythonStacks python_;
  std::shared_ptr<const profile::Module> python_module_ = python_module();
  profile::ModuleId python_id_;
  uint64_t python_generation_ = 0;

  profile::RawProfile window_;
  uint64_t generation_ = 1;
  uint64_t kernel_generation_ = 0;
  profile::ModuleId kernel_id_;
  int64_t window_start_wall_ns_ = 0;
  int64_t wall_minus_monotonic_ns_ = 0;  // turns sample times into wall clock for the timeline
  int64_t period_ns_ = 0;
  int32_t main_pid_ = 0;
  std::shared_ptr<const profile::Module> main_module_;

  // -p: a thread may be covered by two events; its samples are kept from one (see ThreadDedup).
  bool dedupe_ = false;
  ThreadDedup dedup_;

  CollectorStats stats_;     // what the recorder counts itself
  CollectorStats reported_;  // stats_ and its parts' stats, as of the last stats()
  bool stopped_ = false;
  bool finished_ = false;
  std::vector<UnwoundFrame> frames_;
  std::vector<profile::RawFrame> raw_frames_;
};

}  // namespace ember::collector
