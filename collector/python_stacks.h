#pragma once
// Python frames in the collector's stacks. Right after a sample is read from its ring (the
// target keeps running: every microsecond counts) the Python stack of the sampled thread is read
// with python::ProcessReader and kept, interned, until the sample's turn comes in time order;
// then merge_python_stack() puts it in place of the native eval-loop frames.
//
//   on_sample_read(pid, tid, time)   from the ring reader, before the reorder queue
//   on_exec / on_mmap / on_exit      forget a process's reader (or its "not Python" verdict)
//   merge(...)                       when the sample is applied, after native unwinding
//   expire(before)                   reads whose sample was never applied (filtered, dropped)
//
// Off-CPU time (--off-cpu): a thread's Python stack is also read as its switch-out sample leaves
// the ring (on_switch_out_read). A thread off CPU runs no Python, so the read is exact as long as
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

#include "collector/python_merge.h"
#include "profile/raw_profile.h"

namespace ember::collector {

class Process;

struct PythonOptions {
  bool enabled = true;
  size_t max_readers = 64;           // processes with an attached reader at once
  size_t max_processes = 32768;      // remembered verdicts ("no CPython", "unsupported")
  size_t max_pending = 1u << 16;     // reads waiting for their sample to be applied
  size_t max_interned_frames = 1u << 17;  // distinct Python frames before the table starts over
  size_t max_warnings = 16;          // warning lines about interpreters that cannot be read
  // Wake the poller at every sample, so each Python stack is read right after its sample. Off:
  // at a quarter of the ring like CPU-only recordings (fewer wake-ups, staler stacks; the
  // benchmark measures both).
  bool wake_per_sample = true;
};

// Every sample of a process with CPython ends in exactly one of the outcome counters
// (merged ... not_read); the reader counters say why a read missed.
struct PythonStats {
  // Processes.
  uint64_t attached = 0;          // readers attached (a process counts again after exec)
  uint64_t unsupported = 0;       // CPython versions ember cannot read (one warning each)
  uint64_t attach_failed = 0;     // CPython found but its runtime could not be located
  uint64_t readers = 0;           // attached now
  uint64_t readers_evicted = 0;   // past max_readers, least recently sampled first
  // Samples of processes with a reader, by outcome of the merge.
  uint64_t merged = 0;            // every eval-loop frame replaced by its Python frames
  uint64_t merged_below_cut = 0;  // native stack cut short; Python callers put above the cut
  uint64_t stale_fewer = 0;       // fewer Python calls than native eval frames (read after a return)
  uint64_t stale_more = 0;        // more Python calls than native eval frames (read after a call)
  uint64_t no_eval_frames = 0;    // a whole native stack without the eval loop: kept native
  uint64_t no_python_thread = 0;  // the thread was not running Python: kept native
  uint64_t read_missed = 0;       // the read raced or failed (reasons below): kept native
  uint64_t not_read = 0;          // no read for the sample: busy (pending bound) or table full
  // Why reads missed (python::ReaderStats summed over readers, past and present).
  uint64_t miss_process_gone = 0;
  uint64_t miss_read_failed = 0;
  uint64_t miss_bad_object = 0;
  uint64_t miss_chain_too_long = 0;
  uint64_t miss_stack_changed = 0;  // the stack moved while it was read, twice in a row
  uint64_t stacks_read = 0;
  uint64_t frames_read = 0;
  uint64_t trampolines = 0;       // -X perf trampoline frames replaced with their eval frame
  uint64_t read_ns = 0;           // time spent reading and interning Python stacks
  // Off-CPU blocks (--off-cpu) of threads of processes with a reader. Switch-outs are read within
  // a budget per second; each block with a read ends, at its first charge, in exactly one of
  // off_cpu_merged, off_cpu_ran_again, off_cpu_unmerged.
  uint64_t off_cpu_read = 0;         // switch-outs whose Python stack was read
  uint64_t off_cpu_over_budget = 0;  // switch-outs not read: past the reads-per-second budget
  uint64_t off_cpu_merged = 0;       // blocks charged with their Python frames
  uint64_t off_cpu_ran_again = 0;    // the thread was back on CPU before the read ended: native
  uint64_t off_cpu_unmerged = 0;     // read missed, not in Python, no eval-loop frame: native

  // Sums counters; the gauge `readers` too (callers that keep a current value set it after).
  PythonStats& operator+=(const PythonStats& o);
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

  // A sample of (pid, tid) stamped `time` was just read from a ring: read the thread's Python
  // stack now.
  void on_sample_read(int32_t pid, int32_t tid, uint64_t time);
  // The switch-out sample of (pid, tid) stamped `time` was just read from a ring: the thread is
  // off CPU (or about to be), read its Python stack now, within the budget.
  void on_switch_out_read(int32_t pid, int32_t tid, uint64_t time);
  // The switch-out sample is applied: its read (null when there is none) leaves the reads
  // waiting for their sample, to be kept with the off-CPU block.
  PythonReadPtr take(int32_t tid, uint64_t time);
  void on_exec(int32_t pid);
  void on_mmap(int32_t pid, std::string_view filename);
  void on_exit(int32_t pid);

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

  PythonStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::collector
