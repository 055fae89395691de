#include "collector/reorder_queue.h"

#include <algorithm>
#include <cstring>

namespace ember::collector {

void ReorderQueue::sort() {
  if (sorted_) return;
  // Entries keep arrival order as the tie-break (stable sort on time alone).
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
  sorted_ = true;
}

void ReorderQueue::push(const Record& record, std::span<const std::byte> raw) {
  const uint64_t time = record.time();
  if (time < last_flush_) stats_.out_of_order++;
  size_t words = (raw.size() + 7) / 8;
  Entry e{time,   next_seq_++, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(raw.size()),
          reinterpret_cast<std::uintptr_t>(raw.data()), record};
  if (!entries_.empty()) {
    const Entry& last = entries_.back();
    if (time < last.time) sorted_ = false;
  }
  arena_.resize(arena_.size() + words);
  std::memcpy(arena_.data() + e.offset, raw.data(), raw.size());
  entries_.push_back(e);
  stats_.queued++;
  if (bytes() > max_bytes_ && entries_.size() > 1) {
    // Bounded memory beats perfect order: hand out the oldest half now.
    stats_.forced_flushes++;
    sort();
    size_t half = entries_.size() / 2;
    flush_count(half, std::max(last_flush_, entries_[half - 1].time));
  }
}

void ReorderQueue::flush_until(uint64_t limit) {
  if (entries_.empty()) {
    last_flush_ = std::max(last_flush_, limit);
    return;
  }
  sort();
  auto end = std::upper_bound(entries_.begin(), entries_.end(), limit,
                              [](uint64_t t, const Entry& e) { return t < e.time; });
  flush_count(static_cast<size_t>(end - entries_.begin()), std::max(last_flush_, limit));
}

void ReorderQueue::flush_all() {
  if (entries_.empty()) return;
  sort();
  flush_count(entries_.size(), std::max(last_flush_, entries_.back().time));
}

void ReorderQueue::flush_count(size_t count, uint64_t new_last_flush) {
  last_flush_ = new_last_flush;
  if (count == 0) return;
  // The records not yet due move, compacted, to the spare arena, which becomes the arena; the
  // due ones are handed out from the old arena afterwards. The sink may push (it does not
  // today): pushes land in the new arena and are safe.
  std::vector<uint64_t> old_arena = std::move(arena_);
  std::vector<Entry> batch = std::move(entries_);
  arena_ = std::move(spare_arena_);
  entries_ = std::move(spare_entries_);
  arena_.clear();
  entries_.clear();
  for (size_t i = count; i < batch.size(); ++i) {
    Entry e = batch[i];
    size_t words = (e.size + 7) / 8;
    auto offset = static_cast<uint32_t>(arena_.size());
    arena_.insert(arena_.end(), old_arena.begin() + e.offset, old_arena.begin() + e.offset + words);
    e.offset = offset;
    entries_.push_back(e);
  }
  for (size_t i = 0; i < count; ++i) {
    Entry& e = batch[i];
    const auto* copy = reinterpret_cast<const std::byte*>(old_arena.data() + e.offset);
    rebase(e.record, e.origin, copy);
    sink_(e.record, std::span(copy, e.size));
  }
  spare_arena_ = std::move(old_arena);
  spare_entries_ = std::move(batch);
}

}  // namespace ember::collector
