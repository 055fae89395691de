#pragma once
// Records of the kernel-side Python reader (python/kernel_reader.h) waiting for their samples.
// The kernel writes a record in the interrupt that takes its sample, before the sample itself:
// when a sample leaves its ring, its record has been drained already or is still in the BPF
// ring (the caller drains it and asks again). A record is the sample's when TID, CPU and
// instruction pointer are the same and its time is the nearest within kMatchNs (both read from
// CLOCK_MONOTONIC, microseconds apart in one interrupt): switch-outs of a thread all have the
// scheduler's address, and two of them may be a few µs apart on two CPUs.
//
// A thread's samples come from the ring of each CPU it ran on, one ring after the other, so a
// record is taken out alone, never with "everything older"; records whose sample never came
// (lost, or from a second event) expire a second after the samples already applied.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "python/bpf/python_stack_abi.h"

namespace ember::collector {

class KernelRecordQueue {
 public:
  static constexpr uint64_t kMatchNs = 100'000;
  static constexpr uint64_t kKeepNs = 1'000'000'000;
  static constexpr size_t kMaxBytes = 32u << 20;

  // Copies a record (header and frames). Past kMaxBytes everything queued is dropped first.
  void push(const ember_py_stack& record);
  // The record of the sample, removed from the queue; nullptr when none is queued. Valid until
  // the next take().
  const ember_py_stack* take(int32_t tid, uint32_t cpu, uint64_t time, uint64_t ip);
  // Drops records older than `time` - kKeepNs (UINT64_MAX: all).
  void expire(uint64_t time);
  size_t bytes() const { return bytes_; }
  uint64_t dropped() const { return dropped_; }

 private:
  std::unordered_map<int32_t, std::deque<std::vector<std::byte>>> by_tid_;
  size_t bytes_ = 0;
  uint64_t dropped_ = 0;  // records dropped unmatched
  std::vector<std::vector<std::byte>> spare_;
  std::vector<std::byte> taken_;
};

}  // namespace ember::collector
