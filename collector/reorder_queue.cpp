#include "collector/reorder_queue.h"

#include <algorithm>
#include <cstring>

namespace ember::collector {

namespace {

bool earlier(uint64_t time_a, uint64_t seq_a, uint64_t time_b, uint64_t seq_b) {
  return time_a != time_b ? time_a < time_b : seq_a < seq_b;
}

}  // namespace

uint64_t* ReorderQueue::Words::room(size_t words) {
  if (size + words > capacity) {
    const size_t grown = std::max({capacity * 2, size + words, size_t{4096}});
    auto fresh = std::make_unique_for_overwrite<uint64_t[]>(grown);
    if (size != 0) std::memcpy(fresh.get(), data.get(), size * sizeof(uint64_t));
    data = std::move(fresh);
    capacity = grown;
  }
  return data.get() + size;
}

uint64_t* ReorderQueue::Words::append(size_t words) {
  uint64_t* out = room(words);
  size += words;
  return out;
}

void ReorderQueue::sort() {
  if (sorted_ == keys_.size()) return;
  // Unique (time, seq) keys: std::sort's order is the stable one, without stable_sort's buffer.
  auto less = [](const Key& a, const Key& b) { return earlier(a.time, a.seq, b.time, b.seq); };
  const auto middle = keys_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  std::sort(middle, keys_.end(), less);
  if (sorted_ != 0 && less(*middle, *(middle - 1))) std::inplace_merge(keys_.begin(), middle, keys_.end(), less);
  sorted_ = keys_.size();
}

void ReorderQueue::push(const Record& record, std::span<const std::byte> raw) {
  std::span<std::byte> room = reserve(raw.size());
  std::memcpy(room.data(), raw.data(), raw.size());
  queue_reserved(record, reinterpret_cast<std::uintptr_t>(raw.data()));
}

std::span<std::byte> ReorderQueue::reserve(size_t size) {
  reserved_ = size;
  return {reinterpret_cast<std::byte*>(arena_.room((size + 7) / 8)), size};
}

void ReorderQueue::commit(const Record& record) {
  queue_reserved(record, reinterpret_cast<std::uintptr_t>(arena_.data.get() + arena_.size));
}

void ReorderQueue::queue_reserved(const Record& record, std::uintptr_t origin) {
  const uint64_t time = record.time();
  if (time < last_flush_) stats_.out_of_order++;
  const auto offset = static_cast<uint32_t>(arena_.size);
  arena_.size += (reserved_ + 7) / 8;
  held_.push_back(Held{offset, static_cast<uint32_t>(reserved_), origin, record});
  reserved_ = 0;
  const uint64_t seq = next_seq_++;
  if (sorted_ == keys_.size() && (keys_.empty() || !earlier(time, seq, keys_.back().time, keys_.back().seq))) {
    sorted_++;  // in order: the common case within one ring
  }
  keys_.push_back(Key{time, seq, static_cast<uint32_t>(held_.size() - 1)});
  stats_.queued++;
  if (bytes() > max_bytes_ && keys_.size() > 1) {
    // Bounded memory beats perfect order: hand out the oldest half now.
    stats_.forced_flushes++;
    sort();
    const size_t half = keys_.size() / 2;
    flush_count(half, std::max(last_flush_, keys_[half - 1].time));
  }
}

void ReorderQueue::flush_until(uint64_t limit) {
  if (keys_.empty()) {
    last_flush_ = std::max(last_flush_, limit);
    return;
  }
  sort();
  auto end = std::upper_bound(keys_.begin(), keys_.end(), limit, [](uint64_t t, const Key& k) { return t < k.time; });
  flush_count(static_cast<size_t>(end - keys_.begin()), std::max(last_flush_, limit));
}

void ReorderQueue::flush_all() {
  if (keys_.empty()) return;
  sort();
  flush_count(keys_.size(), std::max(last_flush_, keys_.back().time));
}

void ReorderQueue::flush_count(size_t count, uint64_t new_last_flush) {
  last_flush_ = new_last_flush;
  if (count == 0) return;
  // The due records are handed out where they lie; their words become dead space, compacted
  // away only when it is over half the arena. (Compacting at every flush copied every record
  // not yet due each time: with a flush per sample, ~10 ms of 32 KiB stack copies per sample.)
  for (size_t i = 0; i < count; ++i) {
    Held& h = held_[keys_[i].held];
    h.out = true;
    dead_words_ += (h.size + 7) / 8;
    dead_held_++;
    const auto* copy = reinterpret_cast<const std::byte*>(arena_.data.get() + h.offset);
    rebase(h.record, h.origin, copy);  // views into the bytes it was decoded from, now into its copy
    sink_(h.record, std::span(copy, h.size));
  }
  keys_.erase(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(count));
  sorted_ -= count;
  if (keys_.empty()) {
    arena_.size = 0;
    held_.clear();
    dead_words_ = 0;
    dead_held_ = 0;
  } else if (dead_words_ * 2 > arena_.size || dead_held_ * 2 > held_.size()) {
    compact();
  }
}

void ReorderQueue::compact() {
  Words& fresh = spare_arena_;
  std::vector<Held>& kept = spare_held_;
  fresh.size = 0;
  kept.clear();
  moved_to_.assign(held_.size(), 0);
  for (size_t i = 0; i < held_.size(); ++i) {
    Held& h = held_[i];
    if (h.out) continue;
    const size_t words = (h.size + 7) / 8;
    const auto offset = static_cast<uint32_t>(fresh.size);
    std::memcpy(fresh.append(words), arena_.data.get() + h.offset, words * sizeof(uint64_t));
    h.offset = offset;
    moved_to_[i] = static_cast<uint32_t>(kept.size());
    kept.push_back(h);
  }
  for (Key& k : keys_) k.held = moved_to_[k.held];
  std::swap(arena_, fresh);
  held_.swap(kept);
  dead_words_ = 0;
  dead_held_ = 0;
}

}  // namespace ember::collector
