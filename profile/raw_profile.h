#pragma once
// What the collector hands on: stacks of addresses, never names, aggregated by identical stack
// and origin. Symbolization happens later, once per unique (module, offset), see symbolizer/.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/types.h"
#include "common/unique_fd.h"
#include "profile/profile.h"
#include "profile/string_table.h"
#include "profile/timeline.h"

namespace ember::profile {

// A binary (or pseudo-binary) that code was executed from. Shared by every window and process
// that maps it; the collector keeps one per build-id (or device+inode when there is none).
struct Module {
  MappingKind kind = MappingKind::kFile;
  std::string path;  // as the target saw it: "/usr/lib/x86_64-linux-gnu/liblzma.so.5.4.1"
  common::BuildId build_id;
  uint64_t device = 0;  // identity when there is no build-id
  uint64_t inode = 0;
  // A process that mapped it: /proc/PID/root/PATH reaches the file in its mount namespace.
  // For kJit, the process whose /tmp/perf-PID.map names the code.
  int32_t pid = 0;
  // The collector's open handle on the file, when it has one, so that binaries of processes
  // that have exited (or were deleted or replaced) can still be symbolized.
  std::shared_ptr<const common::UniqueFd> file;
};

using ModuleId = Index<struct ModuleTag>;

struct RawFrame {
  ModuleId module;  // invalid: the address lies in no known mapping
  // kFile, kVdso: offset into the file; kKernel, kJit, kAnonymous, none: the absolute address;
  // kPython: the index of the frame in the profile's table of Python frames (python_frame()).
  uint64_t offset = 0;
  constexpr bool operator==(const RawFrame&) const = default;
};

// One frame of interpreted Python code. The collector reads these as names from the interpreter
// (there is no address to symbolize later); a RawProfile interns each distinct one once.
struct PythonFrame {
  StringId function;  // the qualified name where the version has one (3.11+), else the name
  StringId file;      // the code's file name as the interpreter holds it (co_filename)
  int32_t line = 0;        // the line being executed; 0 when unknown
  int32_t first_line = 0;  // the function's first line (co_firstlineno)
  constexpr bool operator==(const PythonFrame&) const = default;
};

// Who was running when the sample was taken.
struct SampleOrigin {
  int32_t pid = 0;
  int32_t tid = 0;
  StringId comm;         // the process name (its main thread's comm)
  StringId thread_comm;  // the sampled thread's name
  // The systemd service of the process's cgroup ("nginx" for .../nginx.service); none: the
  // process is in no service (a session, a container, no systemd): the empty string.
  StringId service;
  constexpr bool operator==(const SampleOrigin&) const = default;
};

// The values kept per stack: pprof's sample types of ember's recordings (see
// profile/sample_types.h for their names). Off-CPU values stay 0 unless recorded with --off-cpu.
struct RawStackCounts {
  uint64_t samples = 0;
  uint64_t weight = 0;       // on-CPU time in nanoseconds (sample type "cpu")
  uint64_t blocked_ns = 0;   // off CPU, asleep: I/O, futex, poll, nanosleep ("blocked")
  uint64_t runnable_ns = 0;  // off CPU, preempted while runnable: waiting for a CPU ("runnable")

  RawStackCounts& operator+=(const RawStackCounts& o) {
    samples += o.samples;
    weight += o.weight;
    blocked_ns += o.blocked_ns;
    runnable_ns += o.runnable_ns;
    return *this;
  }
};

class RawProfile {
 public:
  // max_unique_stacks bounds memory: past it, new stacks are dropped and counted.
  explicit RawProfile(size_t max_unique_stacks = 1u << 20) : max_unique_stacks_(max_unique_stacks) {}

  // The same module object (by identity) always gets the same id within this profile.
  ModuleId add_module(std::shared_ptr<const Module> module);
  const Module& module(ModuleId id) const { return *modules_[id.value]; }
  const std::shared_ptr<const Module>& module_ptr(ModuleId id) const { return modules_[id.value]; }
  size_t module_count() const { return modules_.size(); }

  StringId intern(std::string_view s) { return strings_.intern(s); }
  std::string_view str(StringId id) const { return strings_.get(id); }

  // Interns a Python frame; the index is the RawFrame::offset of the frame in a kPython module.
  // nullopt when the table is at its bound (max_python_frames): the caller keeps native frames.
  std::optional<uint32_t> add_python_frame(std::string_view function, std::string_view file,
                                           int32_t line, int32_t first_line);
  const PythonFrame& python_frame(uint64_t index) const { return python_frames_[index]; }
  size_t python_frame_count() const { return python_frames_.size(); }
  void set_max_python_frames(size_t n) { max_python_frames_ = n; }

  // Adds one sample (or `samples` of them) with this stack; false when dropped at the limit.
  bool add_sample(const SampleOrigin& origin, std::span<const RawFrame> leaf_first,
                  uint64_t weight, uint64_t samples = 1);
  // Adds any values to a stack (off-CPU time has no samples); false when dropped at the limit.
  bool add(const SampleOrigin& origin, std::span<const RawFrame> leaf_first,
           const RawStackCounts& counts);

  // Time order (profile/timeline.h): notes that the sample just added (by add_sample or add,
  // when it was not dropped) was taken at `time_ns` (wall clock). Bounded by
  // set_max_timeline_samples (kMaxTimelineSamples by default; 0 keeps no timeline).
  void note_time(int64_t time_ns);
  void set_max_timeline_samples(size_t n) { max_timeline_samples_ = n; }
  size_t timeline_size() const { return timeline_stacks_.size(); }
  uint64_t timeline_dropped() const { return timeline_dropped_; }  // past the bound
  // Visits the timeline in the order it was noted: fn(int64_t time_ns, uint32_t stack), where
  // stack numbers the unique stacks in for_each_stack's order.
  template <class Fn>
  void for_each_timed(Fn&& fn) const {
    for (size_t i = 0; i < timeline_stacks_.size(); ++i) fn(timeline_times_[i], timeline_stacks_[i]);
  }

  // Visits each unique stack: fn(const SampleOrigin&, std::span<const RawFrame> leaf_first,
  // const RawStackCounts&).
  template <class Fn>
  void for_each_stack(Fn&& fn) const {
    for (const Entry& e : entries_) {
      fn(e.origin, std::span<const RawFrame>(frames_.data() + e.first_frame, e.frame_count),
         e.counts);
    }
  }

  size_t unique_stacks() const { return entries_.size(); }
  uint64_t total_samples() const { return total_.samples; }
  uint64_t total_weight() const { return total_.weight; }
  const RawStackCounts& totals() const { return total_; }
  uint64_t dropped_samples() const { return dropped_samples_; }
  uint64_t dropped_off_cpu_ns() const { return dropped_off_cpu_ns_; }  // past the stack bound
  // Approximate heap bytes held, for the daemon's memory bound.
  size_t memory_bytes() const;

  // Adds all of `other` (its modules, strings and Python frames are re-interned here).
  void merge(const RawProfile& other);
  // Empties the stacks but keeps limits; modules are released.
  void clear();

  // The recording window and how it was sampled (for pprof's time and period fields).
  int64_t start_time_ns = 0;  // wall clock, Unix epoch
  int64_t end_time_ns = 0;
  int64_t period_ns = 0;      // nominal sampling period, 1e9 / frequency
  std::string event;          // "cpu-clock", "cycles"
  // Recorded with --off-cpu: the profile has the off-CPU and wall sample types.
  bool off_cpu = false;
  // The module of the program the user asked about (the launched command), listed first.
  ModuleId main_module;

 private:
  struct Entry {
    SampleOrigin origin;
    uint32_t first_frame = 0;
    uint32_t frame_count = 0;
    RawStackCounts counts;
  };
  static uint64_t hash_stack(const SampleOrigin& origin, std::span<const RawFrame> frames);
  void merge_timeline(const RawProfile& other, std::span<const uint32_t> entry_map);

  size_t max_unique_stacks_;
  StringTable strings_;
  std::vector<std::shared_ptr<const Module>> modules_;
  std::unordered_map<const Module*, uint32_t> module_index_;
  std::vector<RawFrame> frames_;
  std::vector<Entry> entries_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> index_;
  RawStackCounts total_;
  uint64_t dropped_samples_ = 0;

  struct PythonFrameHash {
    size_t operator()(const PythonFrame& f) const noexcept;
  };
  size_t max_python_frames_ = 1u << 18;
  std::vector<PythonFrame> python_frames_;
  std::unordered_map<PythonFrame, uint32_t, PythonFrameHash> python_index_;
  uint64_t dropped_off_cpu_ns_ = 0;

  // The entry the last add() counted into (UINT32_MAX when it dropped the sample).
  uint32_t last_entry_ = UINT32_MAX;
  size_t max_timeline_samples_ = kMaxTimelineSamples;
  std::vector<int64_t> timeline_times_;     // two arrays rather than one padded struct:
  std::vector<uint32_t> timeline_stacks_;   // 12 bytes per sample, not 16
  uint64_t timeline_dropped_ = 0;
};

}  // namespace ember::profile
