#pragma once
// A cache with a bound on entries and on bytes, evicting the least recently used entry first.
// Not thread-safe: one per ProcessReader, used by the thread that reads stacks.

#include <cstddef>
#include <list>
#include <unordered_map>
#include <utility>

namespace ember::python {

template <class Key, class Value>
class BoundedCache {
 public:
  BoundedCache(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The value, marked as most recently used; nullptr when absent.
  const Value* find(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  // Inserts or replaces; returns how many other entries were evicted to stay within bounds.
  // An entry larger than the byte bound is not kept.
  size_t insert(const Key& key, Value value, size_t bytes) {
    erase(key);
    if (bytes > max_bytes_ || max_entries_ == 0) return 0;
    size_t evicted = 0;
    while (!order_.empty() && (order_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
      bytes_ -= order_.back().bytes;
      index_.erase(order_.back().key);
      order_.pop_back();
      ++evicted;
    }
    order_.push_front(Entry{key, std::move(value), bytes});
    index_.emplace(key, order_.begin());
    bytes_ += bytes;
    return evicted;
  }

  void erase(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
  }

  void clear() {
    order_.clear();
    index_.clear();
    bytes_ = 0;
  }

  size_t size() const { return order_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    Key key;
    Value value;
    size_t bytes;
  };
  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace ember::python
