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
// Readers attach lazily, once per process, on its first sample; a process without CPython is
// remembered as such until it execs or maps a libpython. Everything is bounded: readers (least
// recently sampled out), remembered verdicts, reads waiting for their sample, interned frames.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "collector/collector_stats.h"
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
};

// The pseudo-module of Python frames (kind kPython, path "[python]"): one for every process,
// since each Python frame carries its own name, file and line.
std::shared_ptr<const profile::Module> python_module();

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
  void on_exec(int32_t pid);
  void on_mmap(int32_t pid, std::string_view filename);
  void on_exit(int32_t pid);

  // The sample (pid, tid, time) is applied: when its Python stack was read, `frames` (leaf first,
  // of `process`, in `window`) becomes the merged stack. Python frames are interned in `window`
  // into `python_module`'s table; `generation` changes with each new window.
  void merge(const Process& process, int32_t tid, uint64_t time, bool native_complete,
             profile::RawProfile& window, uint64_t generation, profile::ModuleId python_module,
             std::vector<profile::RawFrame>& frames);
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
