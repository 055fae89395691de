#include "collector/thread_dedup.h"

#include <gtest/gtest.h>

namespace ember::collector {
namespace {

// Threads 10 and 11 existed at attach (events 100/101 and 110/111, one per CPU). Thread 12 was
// created by 10 while ember was attaching: it inherited 100/101 and got its own 120/121.
class ThreadDedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d.opened(100, 10);
    d.opened(101, 10);
    d.opened(110, 11);
    d.opened(111, 11);
    d.opened(120, 12);
    d.opened(121, 12);
  }
  ThreadDedup d;
};

TEST_F(ThreadDedupTest, ThreadsKeepTheirOwnEvents) {
  EXPECT_TRUE(d.accept(100, 10));
  EXPECT_TRUE(d.accept(101, 10));
  EXPECT_TRUE(d.accept(111, 11));
  EXPECT_TRUE(d.accept(120, 12));
}

TEST_F(ThreadDedupTest, InheritedCopyOfADirectlyOpenedThreadIsDropped) {
  EXPECT_FALSE(d.accept(100, 12));
  EXPECT_FALSE(d.accept(101, 12));
  EXPECT_TRUE(d.accept(121, 12));
}

TEST_F(ThreadDedupTest, LaterThreadsKeepTheFirstInheritedEventOnly) {
  // Thread 13 was created by 12, which carries both its own event and 10's inherited one.
  EXPECT_TRUE(d.accept(120, 13));
  EXPECT_TRUE(d.accept(121, 13));  // the same owner on another CPU
  EXPECT_FALSE(d.accept(100, 13));
  // Thread 14, created by 11 after attaching, has one inherited event: all kept.
  EXPECT_TRUE(d.accept(110, 14));
  EXPECT_TRUE(d.accept(111, 14));
}

TEST_F(ThreadDedupTest, ReusedTidStartsFresh) {
  EXPECT_FALSE(d.accept(100, 12));
  d.exited(12);
  // A new thread with tid 12 has no event of its own: its inherited samples count.
  EXPECT_TRUE(d.accept(100, 12));
  EXPECT_FALSE(d.accept(110, 12));
}

TEST_F(ThreadDedupTest, UnknownEventIdsAreKept) { EXPECT_TRUE(d.accept(999, 10)); }

}  // namespace
}  // namespace ember::collector
