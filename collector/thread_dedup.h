#pragma once
// -p opens an inherited event for every thread it finds. A thread created while ember was
// attaching can end up covered twice: by the event opened for it and by the copy it inherited
// from its creator's event; both sample it at the full rate. This keeps, per thread, the
// samples of one event only: its own event when it has one, else the first inherited one seen.
//
// Samples carry the id of the event they came from (PERF_SAMPLE_IDENTIFIER); an inherited
// event reports its parent's id, so an id names the thread the event was opened for.

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

namespace ember::collector {

class ThreadDedup {
 public:
  // An event ember opened for thread `tid`.
  void opened(uint64_t event_id, int32_t tid) {
    opened_for_[event_id] = tid;
    direct_.insert(tid);
  }

  // Whether a sample of thread `tid` from event `event_id` is kept.
  bool accept(uint64_t event_id, int32_t tid) {
    auto it = opened_for_.find(event_id);
    if (it == opened_for_.end()) return true;  // not one of ours: nothing to compare with
    const int32_t owner = it->second;
    if (owner == tid) return true;
    // An inherited copy of another thread's event: a thread with its own event keeps that one.
    if (direct_.contains(tid)) return false;
    auto [kept, inserted] = inherited_owner_.try_emplace(tid, owner);
    return kept->second == owner;
  }

  // The thread exited: its tid may be reused by a thread without an event of its own.
  void exited(int32_t tid) {
    direct_.erase(tid);
    inherited_owner_.erase(tid);
  }

 private:
  std::unordered_map<uint64_t, int32_t> opened_for_;
  std::unordered_set<int32_t> direct_;
  std::unordered_map<int32_t, int32_t> inherited_owner_;
};

}  // namespace ember::collector
