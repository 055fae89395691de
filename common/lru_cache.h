#pragma once
// The one least-recently-used map, for every cache with an explicit bound (the symbolizer's
// binaries and JIT maps, the collector's processes and unwind tables): the owner decides when
// the cache is too big (entries, bytes) and evicts the least recently used entries first.
// Values never move while they are in the map (list nodes): pointers to them stay valid until
// they are erased or evicted.

#include <cstddef>
#include <list>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace ember::common {

template <class Key, class Value>
class LruCache {
 public:
  // The value for `key`, now the most recently used; nullptr when absent.
  Value* find(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  // The value for `key` without counting it as a use; nullptr when absent.
  Value* peek(const Key& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }

  // Inserts or replaces; the entry becomes the most recently used.
  Value& put(Key key, Value value) {
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    order_.emplace_front(std::move(key), std::move(value));
    index_.emplace(order_.front().first, order_.begin());
    return order_.front().second;
  }

  // A new value built in place from `args`, the most recently used; an entry with the same key
  // is replaced.
  template <class... Args>
  Value& emplace(const Key& key, Args&&... args) {
    erase(key);
    order_.emplace_front(std::piecewise_construct, std::forward_as_tuple(key),
                         std::forward_as_tuple(std::forward<Args>(args)...));
    index_.emplace(order_.front().first, order_.begin());
    return order_.front().second;
  }

  // The least recently used entry (what evict_oldest() removes); nullptr when empty.
  const std::pair<const Key, Value>* oldest() const { return order_.empty() ? nullptr : &order_.back(); }
  std::pair<const Key, Value>* oldest() { return order_.empty() ? nullptr : &order_.back(); }

  // Removes the least recently used entry; false when the cache is empty.
  bool evict_oldest() {
    if (order_.empty()) return false;
    index_.erase(order_.back().first);
    order_.pop_back();
    return true;
  }

  bool erase(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.erase(it->second);
    index_.erase(it);
    return true;
  }

  size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  void clear() {
    index_.clear();
    order_.clear();
  }

  // Visits entries, most recently used first: fn(const Key&, const Value&).
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, value] : order_) fn(key, value);
  }

 private:
  using Entry = std::pair<const Key, Value>;
  std::list<Entry> order_;
  std::unordered_map<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace ember::common
