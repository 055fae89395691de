#pragma once
// Off-CPU bookkeeping: from the switch events of threads (a switch-out sample with its stack, the
// SWITCH records out and in, thread exits), the intervals each thread spent off CPU, each split
// into blocked (it slept: I/O, futex, poll, nanosleep) and runnable (preempted while it could
// run: waiting for a CPU). Pure: no kernel, no unwinding. The stack a thread left with is an
// opaque handle the caller attached to the switch-out; the tracker hands it back with each
// interval charged to it and says when the caller may forget it.
//
// Events must come in time order (the recorder's reorder queue); what arrives out of order,
// twice, or with its partner missing is counted and never charged twice.

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace ember::collector {

inline constexpr uint32_t kNoStack = UINT32_MAX;

// Where an off-CPU interval's stack comes from.
enum class OffCpuOrigin : uint8_t {
  kSwitch,          // a switch-out seen in the recording: `stack` (kNoStack when its sample was lost)
  kBeforeStart,     // off CPU when the recording started: its stack is unknown
};

struct OffCpuInterval {
  int32_t pid = 0;
  int32_t tid = 0;
  uint32_t stack = kNoStack;
  OffCpuOrigin origin = OffCpuOrigin::kSwitch;
  bool runnable = false;       // preempted (waiting for a CPU), else blocked
  uint64_t block_start = 0;    // when the thread left the CPU (or the recording started)
  uint64_t from = 0;           // this charge covers [from, to): a long block may be charged in parts
  uint64_t to = 0;
  bool ended = false;          // the thread is back on CPU (or gone): nothing more for this block
  bool exited = false;         // ended by the thread's exit (its switch-in lost): when it ran again is unknown

  uint64_t ns() const { return to - from; }
  uint64_t block_ns() const { return to - block_start; }  // the block so far
};

struct OffCpuStats {
  uint64_t switch_outs = 0;        // switch-out samples applied
  uint64_t switch_ins = 0;
  uint64_t intervals = 0;          // blocks that ended and were charged
  uint64_t charged_ns = 0;         // off-CPU time charged, blocked + runnable
  uint64_t missing_stack = 0;      // a switch-out record without its sample: charged without a stack
  uint64_t missing_switch_in = 0;  // a switch-out while already off CPU: the block in between is not charged
  uint64_t unmatched_switch_in = 0;  // a switch-in without a switch-out of a thread seen before
  uint64_t duplicates = 0;         // the same event twice (a thread seen through two events)
  uint64_t out_of_order = 0;       // a switch-in older than its switch-out: ignored
  uint64_t exited_off_cpu = 0;     // exited while off CPU (its switch-in was lost): charged until exit
  uint64_t before_start = 0;       // threads off CPU when the recording started
};

class OffCpuSink {
 public:
  virtual ~OffCpuSink() = default;
  // Charge this interval to its stack.
  virtual void charge(const OffCpuInterval& interval) = 0;
  // The tracker holds `stack` no more (after its last charge, or never charged).
  virtual void release(uint32_t stack) = 0;
};

class OffCpuTracker {
 public:
  explicit OffCpuTracker(OffCpuSink& sink) : sink_(sink) {}
  OffCpuTracker(const OffCpuTracker&) = delete;
  OffCpuTracker& operator=(const OffCpuTracker&) = delete;

  // The recording started at `time`; `tid` of `pid` existed then, off CPU or not (known only
  // when its first event comes: a switch-in first means it was off CPU since before the start).
  // `runnable`: its state then was R (waiting for a CPU or running), else it slept.
  void existing_thread(int32_t pid, int32_t tid, uint64_t start_time, bool runnable);

  // The sample taken as the thread left the CPU, with the caller's handle on its stack. The
  // handle is always released (or charged and then released).
  void switch_out_sample(int32_t pid, int32_t tid, uint64_t time, uint32_t stack);
  // The SWITCH out record (it follows its sample): preempted or not.
  void switch_out(int32_t pid, int32_t tid, uint64_t time, bool preempted);
  void switch_in(int32_t pid, int32_t tid, uint64_t time);
  void thread_exit(int32_t pid, int32_t tid, uint64_t time);
  // The window ends at `time`: charges what every thread off CPU spent off CPU until then (their
  // blocks go on; the next charge starts there). Threads never seen since the start are charged
  // as blocked since before the start.
  void flush(uint64_t time);
  // Nothing more will come: flush(time), then release everything.
  void finish(uint64_t time);

  const OffCpuStats& stats() const { return stats_; }
  size_t threads() const { return threads_.size(); }

 private:
  struct ThreadState {
    int32_t pid = 0;
    bool off = false;
    bool out_record_seen = false;  // the SWITCH out record of the current block arrived
    bool runnable = false;
    bool seen = false;             // any event since the start
    bool existed = false;          // existed at the start (existing_thread)
    OffCpuOrigin origin = OffCpuOrigin::kSwitch;
    uint32_t stack = kNoStack;
    uint64_t block_start = 0;
    uint64_t charged_until = 0;
    uint64_t last_out = 0;         // time of the last switch-out sample, for duplicates
    uint64_t last_out_record = 0;  // time of the last SWITCH out record
    uint64_t last_in = 0;
  };

  ThreadState& state(int32_t pid, int32_t tid);
  void end_block(int32_t tid, ThreadState& t, uint64_t time, bool exited = false);
  void charge(int32_t tid, ThreadState& t, uint64_t to, bool ended, bool exited = false);
  void start_block(ThreadState& t, uint64_t time, uint32_t stack);

  OffCpuSink& sink_;
  std::unordered_map<int32_t, ThreadState> threads_;  // by tid
  OffCpuStats stats_;
};

}  // namespace ember::collector
