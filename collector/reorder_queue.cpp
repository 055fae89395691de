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
  // The due records are handed out where they lie; their words become dead space, compacted
  // away only when it is over half the arena. (Compacting at every flush copied every record
  // not yet due each time: with a flush per sample, ~10 ms of 32 KiB stack copies per sample.)
  std::vector<Entry>& batch = spare_entries_;
  batch.assign(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(count));
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(count));
  for (Entry& e : batch) {
    dead_words_ += (e.size + 7) / 8;
    const auto* copy = reinterpret_cast<const std::byte*>(arena_.data() + e.offset);
    rebase(e.record, e.origin, copy);  // views into the bytes it was decoded from, now into its copy
    sink_(e.record, std::span(copy, e.size));
  }
  batch.clear();
  if (entries_.empty()) {
    arena_.clear();
    dead_words_ = 0;
  } else if (dead_words_ * 2 > arena_.size()) {
    compact();
  }
}

void ReorderQueue::compact() {
  std::vector<uint64_t>& fresh = spare_arena_;
  fresh.clear();
  for (Entry& e : entries_) {
    const size_t words = (e.size + 7) / 8;
    const auto offset = static_cast<uint32_t>(fresh.size());
    fresh.insert(fresh.end(), arena_.begin() + e.offset, arena_.begin() + e.offset + static_cast<std::ptrdiff_t>(words));
    e.offset = offset;
  }
  arena_.swap(fresh);
  fresh.clear();
  dead_words_ = 0;
}

}  // namespace ember::collector
