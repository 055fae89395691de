// The per-process caches' bound: entries and bytes, least recently used evicted first.

#include <gtest/gtest.h>

#include <string>

#include "python/bounded_cache.h"

namespace ember::python {
namespace {

TEST(BoundedCache, EvictsLeastRecentlyUsedAtTheEntryBound) {
  BoundedCache<int, std::string> cache(3, 1000);
  EXPECT_EQ(cache.insert(1, "one", 10), 0u);
  EXPECT_EQ(cache.insert(2, "two", 10), 0u);
  EXPECT_EQ(cache.insert(3, "three", 10), 0u);
  ASSERT_NE(cache.find(1), nullptr);  // 1 is now the most recently used, 2 the least
  EXPECT_EQ(cache.insert(4, "four", 10), 1u);
  EXPECT_EQ(cache.find(2), nullptr);
  EXPECT_EQ(*cache.find(1), "one");
  EXPECT_EQ(*cache.find(3), "three");
  EXPECT_EQ(*cache.find(4), "four");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.bytes(), 30u);
}

TEST(BoundedCache, EvictsUntilTheBytesFit) {
  BoundedCache<int, int> cache(100, 100);
  cache.insert(1, 1, 40);
  cache.insert(2, 2, 40);
  EXPECT_EQ(cache.insert(3, 3, 90), 2u);  // both others must go
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 90u);
  // An entry larger than the whole bound is not kept (and evicts nothing).
  EXPECT_EQ(cache.insert(4, 4, 101), 0u);
  EXPECT_EQ(cache.find(4), nullptr);
  EXPECT_NE(cache.find(3), nullptr);
}

TEST(BoundedCache, ReplacingAKeyKeepsTheAccountRight) {
  BoundedCache<int, int> cache(10, 100);
  cache.insert(1, 1, 60);
  cache.insert(1, 2, 30);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 30u);
  EXPECT_EQ(*cache.find(1), 2);
  cache.erase(1);
  EXPECT_EQ(cache.bytes(), 0u);
  cache.insert(2, 2, 10);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find(2), nullptr);
}

}  // namespace
}  // namespace ember::python
