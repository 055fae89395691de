#pragma once
// The stacks of off-CPU time (ember record --off-cpu): what the recorder does with the switch
// events of its context-switch perf events. Each switch-out sample carries the kernel callchain,
// the user registers and a copy of the user stack, as a CPU sample does; the interval until the
// thread's switch-in (OffCpuTracker) is charged to the stack it left with.
//
// Cost bound: unwinding a stack copy costs ~10-20 us, and switches can come at 100,000/s.
//  - A switch-out from a place the same thread left from before (same user pc, sp and frame
//    pointer, same kernel callchain) reuses the stack unwound then: no copy, no unwinding.
//  - At a new place the sample is kept until the thread is back. A block at least
//    --off-cpu-threshold long is unwound (and remembered); a shorter one is unwound within a
//    budget of kShortUnwindsPerSecond, past it charged to its kernel frames and user pc only.
//  - --off-cpu-threshold 0: nothing is reused, every switch-out is unwound from its own copy.
// Every such decision is counted in OffCpuCounters.
//
// Python threads: reuse by place stays native-only. The Python stack is not part of the place
// (the same sleep call is reached from many Python functions); each switch-out carries its own
// Python read (host's take_python), merged at each charge when the thread was still off CPU
// when the read ended (see python_stacks.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "collector/off_cpu.h"
#include "collector/python_stacks.h"
#include "collector/record_decoder.h"
#include "collector/unwinder.h"
#include "profile/raw_profile.h"

namespace ember::collector {

inline constexpr uint64_t kDefaultOffCpuThresholdNs = 100'000;

// The Python side of an off-CPU charge.
struct OffCpuPython {
  const PythonRead* read = nullptr;  // read at the switch-out; null: none
  uint64_t off_until = 0;            // the thread is known to have stayed off CPU until then
  bool first_charge = false;         // the block's first charge (its outcome is counted once)
  bool native_complete = false;      // the native unwind reached the outermost frame
};

// What the recorder does for the off-CPU stacks.
class OffCpuHost {
 public:
  virtual ~OffCpuHost() = default;
  // Unwinds a switch-out sample as a CPU sample would be (leaf first, kernel frames first).
  // Returns whether the unwind reached the outermost frame.
  virtual bool unwind_switch_out(const SampleRecord& sample, std::vector<UnwoundFrame>& out) = 0;
  // The switch-out sample is applied: the Python stack read when it left the ring, if any.
  virtual PythonReadPtr take_python(const SampleRecord&) { return nullptr; }
  // Adds off-CPU time to the window. `frames` leaf first; when `stand_in` is set it is the whole
  // stack (a pseudo-module whose name says why there is no stack).
  virtual void add_off_cpu(int32_t pid, int32_t tid, std::span<const UnwoundFrame> frames,
                           const std::shared_ptr<const profile::Module>& stand_in,
                           const profile::RawStackCounts& counts, const OffCpuPython& python) = 0;
};

struct OffCpuCounters {
  OffCpuStats switches;
  uint64_t unwound = 0;         // stacks unwound (long blocks, and short ones at new places)
  uint64_t remembered = 0;      // switch-outs from a place seen before: its stack reused
  uint64_t not_unwound = 0;     // short blocks past the unwind budget: kernel frames and user pc only
  uint64_t lost_records = 0;    // switch records the kernel could not write (switch rings full)
  uint64_t pending_limit = 0;   // switch-outs whose stack copy could not be kept (memory bound)
  uint64_t pending_bytes = 0;   // stack copies held now, of threads off CPU
  uint64_t unreadable_state = 0;  // threads existing at the start whose state could not be read
  uint64_t compacted = 0;       // switch-outs whose stack copy was dropped on arrival (place known or in flight)
};

class OffCpuStacks final : private OffCpuSink {
 public:
  OffCpuStacks(OffCpuHost& host, const SampleFormat& format, uint64_t threshold_ns);
  ~OffCpuStacks() override;

  // The recording starts at `time`: threads existing now (the targets' threads; -a: every user
  // thread) are known, so one asleep for the whole recording still counts.
  void existing_threads(const std::vector<std::pair<int32_t, int32_t>>& pid_tid, uint64_t time,
                        const std::string& proc_root = "/proc");
  // As a switch-out sample is read from its ring, before it waits in the reorder queue: when its
  // place is known (unwound before, or an earlier switch-out from it waits with its copy), the
  // cut that drops its stack copy, else nullopt (queued whole). Most switch-outs then move
  // ~0.3 KiB instead of 8 KiB.
  std::optional<StackCut> compact(const SampleRecord& sample, std::span<const std::byte> bytes);
  // A switch-out sample; `bytes` is the whole record (copied while the thread is off CPU).
  void on_switch_out_sample(const SampleRecord& sample, std::span<const std::byte> bytes);
  void on_switch(const SwitchRecord& record);
  void on_exit(int32_t pid, int32_t tid, uint64_t time);
  void flush(uint64_t time);
  void finish(uint64_t time);
  // Every record stamped before `time` has been applied: a thread whose block is still open was
  // off CPU until then at least. UINT64_MAX once nothing more will come.
  void applied_until(uint64_t time) { applied_until_ = time; }
  void count_lost(uint64_t n) { counters_.lost_records += n; }

  OffCpuCounters counters() const;

 private:
  struct Slot {
    std::vector<std::byte> record;  // the switch-out sample, empty when not kept
    int32_t pid = 0;
    uint64_t place = 0;  // hash of where the thread left: user pc/sp/fp and kernel callchain
    bool resolved = false;
    std::vector<UnwoundFrame> frames;
    bool complete = false;  // the unwind of `frames` reached the outermost frame
    PythonReadPtr python;   // the thread's Python stack, read as the switch-out left the ring
    bool charged = false;   // charged at least once
    bool in_use = false;
  };
  struct Remembered {
    std::vector<UnwoundFrame> frames;
    bool complete = false;
  };

  void charge(const OffCpuInterval& interval) override;
  void release(uint32_t stack) override;
  uint32_t new_slot();
  void resolve(Slot& slot, bool long_block);
  bool take_short_unwind(uint64_t now);
  const std::shared_ptr<const profile::Module>& stand_in(const std::string& name);
  uint64_t place_of(const SampleRecord& s) const;

  OffCpuHost& host_;
  SampleFormat format_;
  uint64_t threshold_ns_;
  OffCpuTracker tracker_;
  int ip_index_ = -1, sp_index_ = -1, bp_index_ = -1;  // in the user registers
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  // Stacks unwound before, by place and thread (bounded: emptied when full).
  std::unordered_map<uint64_t, Remembered> remembered_;
  // Places whose first switch-out kept its stack copy and is not unwound yet (compact()).
  std::unordered_set<uint64_t> first_copies_;
  uint64_t applied_until_ = 0;
  // Token bucket of short-block unwinds at new places.
  double unwind_tokens_ = 0;
  uint64_t tokens_time_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const profile::Module>> stand_ins_;
  std::unordered_map<int32_t, std::string> wait_channel_;  // tid -> where it slept at the start
  OffCpuCounters counters_;
};

}  // namespace ember::collector
