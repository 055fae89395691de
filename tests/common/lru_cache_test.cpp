#include "common/lru_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace ember::common {
namespace {

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache<std::string, int> cache;
  cache.put("a", 1);
  cache.put("b", 2);
  cache.put("c", 3);
  ASSERT_NE(cache.find("a"), nullptr);  // a is now the most recent; b the oldest
  EXPECT_EQ(cache.oldest()->first, "b");
  EXPECT_TRUE(cache.evict_oldest());
  EXPECT_EQ(cache.find("b"), nullptr);
  EXPECT_EQ(cache.oldest()->first, "c");
  // peek() is no use: c stays the oldest.
  EXPECT_EQ(*cache.peek("c"), 3);
  EXPECT_EQ(cache.oldest()->first, "c");
  EXPECT_EQ(cache.size(), 2u);
}

TEST(LruCache, EmplaceReplacesAndValuesStayPut) {
  LruCache<int, std::string> cache;
  std::string& first = cache.emplace(1, "one");
  cache.emplace(2, 3, 'x');
  EXPECT_EQ(*cache.find(2), "xxx");
  EXPECT_EQ(&first, cache.find(1)) << "values do not move while in the cache";
  cache.emplace(1, "uno");
  EXPECT_EQ(*cache.find(1), "uno");
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.erase(1));
  EXPECT_FALSE(cache.erase(1));
  cache.clear();
  EXPECT_TRUE(cache.empty());
  EXPECT_EQ(cache.oldest(), nullptr);
  EXPECT_FALSE(cache.evict_oldest());
}

}  // namespace
}  // namespace ember::common
