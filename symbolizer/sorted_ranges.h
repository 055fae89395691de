#pragma once
// Address ranges sorted by start, for "which range contains this address" in O(log n) when
// ranges do not overlap, and still correct when some do (nested symbols, identical-code-folded
// functions, DWARF of garbage-collected sections).

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ember::symbolizer {

// Within items sorted by start, with max_end[i] the greatest end of items[0..i]: the item containing
// `address` with the greatest start (the innermost of nested ranges); among equal starts, the
// first. nullptr when none.
template <class T>
const T* find_containing(const T* items, const uint64_t* max_end, size_t count, uint64_t address) {
  const T* it = std::upper_bound(items, items + count, address,
                                 [](uint64_t a, const T& item) { return a < item.start; });
  size_t i = static_cast<size_t>(it - items);
  const T* best = nullptr;
  while (i > 0) {
    --i;
    if (max_end[i] <= address) break;  // nothing at or before i reaches the address
    const T& item = items[i];
    if (best != nullptr && item.start < best->start) break;
    if (address < item.end) best = &item;  // keep going back: an equal start sorted earlier wins
  }
  return best;
}

// T has `uint64_t start, end` ([start, end)). Call finish() after the last add().
template <class T>
class SortedRanges {
 public:
  void add(T item) { items_.push_back(std::move(item)); }
  void reserve(size_t n) { items_.reserve(n); }

  // Sorts by start (stable: among equal starts, the one added first wins lookups) and records, for
  // each position, the greatest end up to it, so a lookup knows when to stop looking back.
  void finish() {
    std::stable_sort(items_.begin(), items_.end(),
                     [](const T& a, const T& b) { return a.start < b.start; });
    max_end_.resize(items_.size());
    uint64_t max_end = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      max_end = std::max(max_end, items_[i].end);
      max_end_[i] = max_end;
    }
  }

  // The range containing `address` with the greatest start (the innermost of nested ranges);
  // among equal starts, the first added. nullptr when none.
  const T* find(uint64_t address) const {
    return find_containing(items_.data(), max_end_.data(), items_.size(), address);
  }

  const std::vector<T>& items() const { return items_; }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t memory_bytes() const {
    return items_.capacity() * sizeof(T) + max_end_.capacity() * sizeof(uint64_t);
  }

 private:
  std::vector<T> items_;
  std::vector<uint64_t> max_end_;
};

}  // namespace ember::symbolizer
