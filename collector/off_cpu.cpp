#include "collector/off_cpu.h"

namespace ember::collector {

OffCpuTracker::ThreadState& OffCpuTracker::state(int32_t pid, int32_t tid) {
  auto [it, inserted] = threads_.try_emplace(tid);
  ThreadState& t = it->second;
  if (inserted) {
    t.pid = pid;
  } else if (t.pid != pid) {
    // The thread id now belongs to another process (its exit was not seen): start afresh.
    if (t.off && t.stack != kNoStack) sink_.release(t.stack);
    t = ThreadState{};
    t.pid = pid;
  }
  return t;
}

void OffCpuTracker::existing_thread(int32_t pid, int32_t tid, uint64_t start_time, bool runnable) {
  ThreadState& t = state(pid, tid);
  if (t.seen) return;
  t.existed = true;
  t.origin = OffCpuOrigin::kBeforeStart;
  t.runnable = runnable;
  t.block_start = start_time;
  t.charged_until = start_time;
}

void OffCpuTracker::start_block(ThreadState& t, uint64_t time, uint32_t stack) {
  t.off = true;
  t.out_record_seen = false;
  t.runnable = false;
  t.origin = OffCpuOrigin::kSwitch;
  t.stack = stack;
  t.block_start = time;
  t.charged_until = time;
}

void OffCpuTracker::charge(int32_t tid, ThreadState& t, uint64_t to, bool ended, bool exited) {
  if (to <= t.charged_until) return;
  OffCpuInterval i;
  i.pid = t.pid;
  i.tid = tid;
  i.stack = t.origin == OffCpuOrigin::kSwitch ? t.stack : kNoStack;
  i.origin = t.origin;
  i.runnable = t.runnable;
  i.block_start = t.block_start;
  i.from = t.charged_until;
  i.to = to;
  i.ended = ended;
  i.exited = exited;
  stats_.charged_ns += i.ns();
  t.charged_until = to;
  sink_.charge(i);
}

void OffCpuTracker::end_block(int32_t tid, ThreadState& t, uint64_t time, bool exited) {
  charge(tid, t, time, true, exited);
  if (t.stack != kNoStack) sink_.release(t.stack);
  t.stack = kNoStack;
  t.off = false;
  stats_.intervals++;
}

void OffCpuTracker::switch_out_sample(int32_t pid, int32_t tid, uint64_t time, uint32_t stack) {
  ThreadState& t = state(pid, tid);
  t.seen = true;
  if (t.off && t.last_out == time && t.origin == OffCpuOrigin::kSwitch) {
    stats_.duplicates++;
    if (stack != kNoStack) sink_.release(stack);
    return;
  }
  if (t.off) {
    // Off CPU again without having come back: the switch-in in between was lost, so the time
    // of that block is not known. It is not charged.
    stats_.missing_switch_in++;
    if (t.stack != kNoStack) sink_.release(t.stack);
  }
  start_block(t, time, stack);
  t.last_out = time;
  stats_.switch_outs++;
}

void OffCpuTracker::switch_out(int32_t pid, int32_t tid, uint64_t time, bool preempted) {
  ThreadState& t = state(pid, tid);
  t.seen = true;
  if (t.off && !t.out_record_seen && time >= t.block_start) {
    // The record that follows the block's sample: it tells why the thread left.
    t.out_record_seen = true;
    t.runnable = preempted;
    t.last_out_record = time;
    return;
  }
  if (t.off && t.out_record_seen && time == t.last_out_record) {
    stats_.duplicates++;
    return;
  }
  if (t.off) {
    stats_.missing_switch_in++;
    if (t.stack != kNoStack) sink_.release(t.stack);
  }
  // No sample before it (lost, or the sample ring overflowed): the block is charged without a stack.
  stats_.missing_stack++;
  start_block(t, time, kNoStack);
  t.out_record_seen = true;
  t.runnable = preempted;
  t.last_out_record = time;
}

void OffCpuTracker::switch_in(int32_t pid, int32_t tid, uint64_t time) {
  ThreadState& t = state(pid, tid);
  const bool seen_before = t.seen;
  t.seen = true;
  if (t.off) {
    if (time < t.block_start) {
      stats_.out_of_order++;
      return;
    }
    end_block(tid, t, time);
    t.last_in = time;
    stats_.switch_ins++;
    return;
  }
  if (seen_before && t.last_in == time) {
    stats_.duplicates++;
    return;
  }
  stats_.switch_ins++;
  t.last_in = time;
  if (!seen_before && t.existed) {
    // Its first event is a return to a CPU: it was off CPU since before the recording started,
    // with a stack nobody saw.
    stats_.before_start++;
    charge(tid, t, time, true);
    t.origin = OffCpuOrigin::kSwitch;
    return;
  }
  // A thread created during the recording starts by being switched in; anything else seen
  // before lost its switch-out.
  if (seen_before) stats_.unmatched_switch_in++;
}

void OffCpuTracker::thread_exit(int32_t pid, int32_t tid, uint64_t time) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return;
  ThreadState& t = it->second;
  if (t.pid == pid && t.off) {
    // A thread exits on a CPU: its switch-in was lost. Charged up to the exit, the best bound.
    stats_.exited_off_cpu++;
    if (time >= t.block_start) {
      end_block(tid, t, time, true);
    } else if (t.stack != kNoStack) {
      sink_.release(t.stack);
    }
  } else if (t.off && t.stack != kNoStack) {
    sink_.release(t.stack);
  }
  threads_.erase(it);
}

void OffCpuTracker::flush(uint64_t time) {
  for (auto& [tid, t] : threads_) {
    if (t.off) {
      charge(tid, t, time, false);
    } else if (t.existed && !t.seen && !t.runnable) {
      // Asleep for the whole recording so far. (One that was runnable and never left a CPU ran
      // all along: its CPU samples show it.)
      charge(tid, t, time, false);
    }
  }
}

void OffCpuTracker::finish(uint64_t time) {
  for (auto& [tid, t] : threads_) {
    if (t.existed && !t.seen && !t.runnable) stats_.before_start++;
  }
  flush(time);
  for (auto& [tid, t] : threads_) {
    if (t.off && t.stack != kNoStack) sink_.release(t.stack);
    t.off = false;
    t.stack = kNoStack;
  }
  threads_.clear();
}

}  // namespace ember::collector
