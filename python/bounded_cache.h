#pragma once
// A cache with a bound on entries and on bytes, evicting the least recently used entry first:
// common::LruCache (the project's one LRU) with the byte count of each entry beside it.
// Not thread-safe: one per ProcessReader, used by the thread that reads stacks.

#include <cstddef>
#include <utility>

#include "common/lru_cache.h"

namespace ember::python {

template <class Key, class Value>
class BoundedCache {
 public:
  BoundedCache(size_t max_entries, size_t max_bytes)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The value, marked as most recently used; nullptr when absent.
  const Value* find(const Key& key) {
    const Sized* s = lru_.find(key);
    return s ? &s->value : nullptr;
  }

  // Inserts or replaces; returns how many other entries were evicted to stay within bounds.
  // An entry larger than the byte bound is not kept.
  size_t insert(const Key& key, Value value, size_t bytes) {
    erase(key);
    if (bytes > max_bytes_ || max_entries_ == 0) return 0;
    size_t evicted = 0;
    while (!lru_.empty() && (lru_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
      bytes_ -= lru_.oldest()->second.bytes;
      lru_.evict_oldest();
      ++evicted;
    }
    lru_.put(key, Sized{std::move(value), bytes});
    bytes_ += bytes;
    return evicted;
  }

  void erase(const Key& key) {
    if (const Sized* s = lru_.peek(key)) {
      bytes_ -= s->bytes;
      lru_.erase(key);
    }
  }

  void clear() {
    lru_.clear();
    bytes_ = 0;
  }

  size_t size() const { return lru_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Sized {
    Value value;
    size_t bytes;
  };
  size_t max_entries_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  common::LruCache<Key, Sized> lru_;
};

}  // namespace ember::python
