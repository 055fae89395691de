#pragma once
// Python frames in the collector's stacks. When a sample is read from its ring, the Python stack
// of the sampled thread is taken from the kernel's record of it (python/kernel_reader.h: read in
// the interrupt that took the sample, matched by KernelRecordQueue), or else read right then
// with python::ProcessReader (the target keeps running: every microsecond counts); it is kept,
// interned, until the sample's turn comes in time order, then merge_python_stack() puts it in
// place of the native eval-loop frames.
//
//   on_sample_read(pid, tid, ...)    from the ring reader, before the reorder queue
//   on_exec / on_mmap / on_exit      forget a process's reader (or its "not Python" verdict)
//   merge(...)                       when the sample is applied, after native unwinding
//   expire(before)                   reads whose sample was never applied (filtered, dropped)
//
// Off-CPU time (--off-cpu): a thread's Python stack is also taken for its switch-out
// (on_switch_out_read): the kernel's read at the switch, exact, or a user-space read as the
// sample leaves the ring. A thread off CPU runs no Python, so that read is exact as long as
// the thread has not been back on a CPU by the time the read ended; the off-CPU bookkeeping
// knows until when it stayed off (its switch-in's time, compared with the read's end on the same
// CLOCK_MONOTONIC) and merge_off_cpu() merges the read only then. A read that may have come
// after the thread ran again is counted (off_cpu_ran_again) and the block keeps its native stack.
//
// Readers attach lazily, once per process, on its first sample; a process without CPython is
// remembered as such until it execs or maps a libpython. Everything is bounded: readers (least
// recently sampled out), remembered verdicts, reads waiting for their sample, interned frames.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "collector/collector_stats.h"
#include "collector/python_merge.h"
#include "common/error.h"
#include "profile/raw_profile.h"

namespace ember::python {
class KernelReader;
}

namespace ember::collector {

class Process;

struct PythonOptions {
  bool enabled = true;
  size_t max_readers = 64;           // processes with an attached reader at once
  size_t max_processes = 32768;      // remembered verdicts ("no CPython", "unsupported")
  size_t max_pending = 1u << 16;     // reads waiting for their sample to be applied
  size_t max_interned_frames = 1u << 17;  // distinct Python frames before the table starts over
  size_t max_warnings = 16;          // warning lines about interpreters that cannot be read
  // Wake the poller at every sample of a process that runs CPython (python_targets.h), so each
  // Python stack is read right after its sample. Off: at a quarter of the ring like CPU-only
  // recordings (fewer wake-ups, staler stacks; the benchmark measures both).
  bool wake_per_sample = true;
  // Where Python stacks of CPU samples are read. kAuto: in the kernel, at the sample
  // (python/kernel_reader.h), when the kernel runs the BPF reader, else from user space after
  // the sample (woken per sample, see wake_per_sample); kKernel: the kernel or an error; kUser:
  // user space only. Switch-outs (--off-cpu) are read by the kernel at the switch too, within
  // EMBER_PY_SWITCH_READS_PER_CPU_SECOND.
  enum class Reads { kAuto, kKernel, kUser };
  Reads reads = Reads::kAuto;
};

// The pseudo-module of Python frames (kind kPython, path "[python]"): one for every process,
// since each Python frame carries its own name, file and line.
std::shared_ptr<const profile::Module> python_module();

// A Python stack read for a switch-out, kept with its off-CPU block until the block is charged.
class PythonRead;
using PythonReadPtr = std::shared_ptr<const PythonRead>;

// Switch-outs of Python threads read per second at most (a token bucket with a second's burst):
// a thread that switches 50,000 times a second cannot take ember's CPU with reads of ~6 us.
inline constexpr double kOffCpuPythonReadsPerSecond = 5000;

class PythonStacks {
 public:
  explicit PythonStacks(const PythonOptions& options);
  ~PythonStacks();
  PythonStacks(const PythonStacks&) = delete;
  PythonStacks& operator=(const PythonStacks&) = delete;

  bool enabled() const;

  // Python stacks are read by `program`, the sample program the recorder loaded (before any
  // event is opened) and attaches to every sampling event, CPU samples and switch-outs.
  void start_kernel_reads(std::shared_ptr<python::KernelReader> program);
  // Python stacks of CPU samples are read in the kernel: no wake-up per sample is needed.
  bool kernel_reads() const;
  // The program could not be attached to an event: Python stacks are read from user space.
  void stop_kernel_reads();

  // A CPU sample of (pid, tid) stamped `time`, taken on `cpu` at `ip`, was just read from a ring:
  // its Python stack, read in the kernel at the sample, or read now from user space.
  void on_sample_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip);
  // The switch-out sample of (pid, tid) stamped `time` at `ip` was just read from a ring: the
  // thread is off CPU (or about to be). Its Python stack, read in the kernel at the switch, or
  // read now from user space, within the budget.
  void on_switch_out_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip);
  // The switch-out sample is applied: its read (null when there is none) leaves the reads
  // waiting for their sample, to be kept with the off-CPU block.
  PythonReadPtr take(int32_t tid, uint64_t time);
  void on_exec(int32_t pid, uint64_t time);  // time 0: unknown
  void on_mmap(int32_t pid, std::string_view filename);
  void on_exit(int32_t pid);
  void on_thread_exit(int32_t pid, int32_t tid);  // a thread other than the main one

  // The sample (pid, tid, time) is applied: when its Python stack was read, `frames` (leaf first,
  // of `process`, in `window`) becomes the merged stack. Python frames are interned in `window`
  // into `python_module`'s table; `generation` changes with each new window.
  void merge(const Process& process, int32_t tid, uint64_t time, bool native_complete,
             profile::RawProfile& window, uint64_t generation, profile::ModuleId python_module,
             std::vector<profile::RawFrame>& frames);
  // A charge of the off-CPU block `read` was made for: the thread is known to have been off CPU
  // from its switch-out until `off_until` (CLOCK_MONOTONIC ns). When the read ended before that,
  // `frames` (the native stack the block is charged to) gets its Python frames as in merge().
  // `first_charge` counts the block's outcome (once per block).
  void merge_off_cpu(const Process& process, const PythonRead& read, uint64_t off_until, bool first_charge,
                     bool native_complete, profile::RawProfile& window, uint64_t generation,
                     profile::ModuleId python_module, std::vector<profile::RawFrame>& frames);
  // Drops reads of samples stamped before `time` that were never merged (their sample was
  // filtered, deduplicated or lost). Everything when time is UINT64_MAX.
  void expire(uint64_t time);

  // Adds its python_* counters: every sample of a process with CPython ends in exactly one of
  // the outcome counters (python_merged ... python_not_read); the miss counters say why.
  void add_stats(CollectorStats& stats) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::collector
