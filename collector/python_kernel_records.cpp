#include "collector/python_kernel_records.h"

#include <cstring>

namespace ember::collector {

namespace {

const ember_py_stack& header(const std::vector<std::byte>& bytes) {
  return *reinterpret_cast<const ember_py_stack*>(bytes.data());
}

}  // namespace

void KernelRecordQueue::push(const ember_py_stack& record) {
  if (bytes_ >= kMaxBytes) expire(UINT64_MAX);
  std::vector<std::byte> bytes;
  if (!spare_.empty()) {
    bytes = std::move(spare_.back());
    spare_.pop_back();
  }
  const size_t frames = std::min<size_t>(record.frames, EMBER_PY_MAX_FRAMES);
  const auto* from = reinterpret_cast<const std::byte*>(&record);
  bytes.assign(from, from + EMBER_PY_STACK_HEADER_BYTES + frames * sizeof(ember_py_frame));
  reinterpret_cast<ember_py_stack*>(bytes.data())->frames = static_cast<uint32_t>(frames);
  bytes_ += bytes.size();
  by_tid_[static_cast<int32_t>(record.tid)].push_back(std::move(bytes));
}

const ember_py_stack* KernelRecordQueue::take(int32_t tid, uint32_t cpu, uint64_t time, uint64_t ip) {
  auto it = by_tid_.find(tid);
  if (it == by_tid_.end()) return nullptr;
  auto& queue = it->second;
  size_t best = queue.size();
  uint64_t best_gap = kMatchNs + 1;
  for (size_t i = 0; i < queue.size(); ++i) {
    const ember_py_stack& k = header(queue[i]);
    if (k.ip != ip || k.cpu != cpu) continue;
    const uint64_t gap = k.time > time ? k.time - time : time - k.time;
    if (gap < best_gap) {
      best_gap = gap;
      best = i;
    }
  }
  if (best == queue.size()) return nullptr;
  taken_.swap(queue[best]);
  bytes_ -= taken_.size();
  if (spare_.size() < 64 && queue[best].capacity() != 0) spare_.push_back(std::move(queue[best]));
  queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(best));
  if (queue.empty()) by_tid_.erase(it);
  return reinterpret_cast<const ember_py_stack*>(taken_.data());
}

void KernelRecordQueue::expire(uint64_t time) {
  for (auto it = by_tid_.begin(); it != by_tid_.end();) {
    auto& queue = it->second;
    while (!queue.empty() && (time == UINT64_MAX || header(queue.front()).time + kKeepNs < time)) {
      bytes_ -= queue.front().size();
      dropped_++;
      queue.pop_front();
    }
    it = queue.empty() ? by_tid_.erase(it) : std::next(it);
  }
}

}  // namespace ember::collector
