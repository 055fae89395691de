// The off-CPU bookkeeping on synthetic event sequences: what is charged to which stack, split
// blocked/runnable, and what happens when events come twice, late, or not at all.

#include "collector/off_cpu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace ember::collector {
namespace {

class RecordingSink final : public OffCpuSink {
 public:
  void charge(const OffCpuInterval& i) override { charged.push_back(i); }
  void release(uint32_t stack) override { released.push_back(stack); }

  uint64_t total(uint32_t stack, bool runnable) const {
    uint64_t sum = 0;
    for (const auto& i : charged) {
      if (i.stack == stack && i.runnable == runnable) sum += i.ns();
    }
    return sum;
  }
  bool was_released(uint32_t stack) const {
    return std::count(released.begin(), released.end(), stack) == 1;
  }

  std::vector<OffCpuInterval> charged;
  std::vector<uint32_t> released;
};

TEST(OffCpuTracker, ChargesABlockToTheStackItLeftWith) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 7);
  t.switch_out(10, 11, 1001, /*preempted=*/false);
  t.switch_in(10, 11, 5000);
  ASSERT_EQ(sink.charged.size(), 1u);
  const OffCpuInterval& i = sink.charged[0];
  EXPECT_EQ(i.pid, 10);
  EXPECT_EQ(i.tid, 11);
  EXPECT_EQ(i.stack, 7u);
  EXPECT_FALSE(i.runnable);
  EXPECT_EQ(i.ns(), 4000u);
  EXPECT_TRUE(i.ended);
  EXPECT_TRUE(sink.was_released(7));
  EXPECT_EQ(t.stats().intervals, 1u);
  EXPECT_EQ(t.stats().charged_ns, 4000u);
}

TEST(OffCpuTracker, PreemptedIsRunnable) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 1);
  t.switch_out(10, 11, 1001, /*preempted=*/true);
  t.switch_in(10, 11, 3000);
  t.switch_out_sample(10, 11, 4000, 2);
  t.switch_out(10, 11, 4001, /*preempted=*/false);
  t.switch_in(10, 11, 9000);
  EXPECT_EQ(sink.total(1, true), 2000u);
  EXPECT_EQ(sink.total(1, false), 0u);
  EXPECT_EQ(sink.total(2, false), 5000u);
  EXPECT_EQ(sink.total(2, true), 0u);
}

TEST(OffCpuTracker, TwoThreadsOnDifferentCpusInterleave) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  // Thread 11 leaves CPU 0 and comes back on CPU 1; thread 12 does the opposite, interleaved.
  t.switch_out_sample(10, 11, 100, 1);
  t.switch_out_sample(10, 12, 150, 2);
  t.switch_out(10, 11, 101, false);  // records of one CPU may trail another CPU's
  t.switch_out(10, 12, 151, true);
  t.switch_in(10, 12, 400);
  t.switch_in(10, 11, 900);
  EXPECT_EQ(sink.total(1, false), 800u);
  EXPECT_EQ(sink.total(2, true), 250u);
}

TEST(OffCpuTracker, SwitchInOlderThanItsSwitchOutIsIgnored) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 1);
  t.switch_out(10, 11, 1001, false);
  t.switch_in(10, 11, 900);  // late record of an earlier block on another CPU
  EXPECT_TRUE(sink.charged.empty());
  EXPECT_EQ(t.stats().out_of_order, 1u);
  t.switch_in(10, 11, 2000);
  EXPECT_EQ(sink.total(1, false), 1000u);
}

TEST(OffCpuTracker, ThreadExitingWhileOffCpuIsChargedUntilItsExit) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 3);
  t.switch_out(10, 11, 1001, false);
  t.thread_exit(10, 11, 1500);  // its switch-in was lost
  EXPECT_EQ(sink.total(3, false), 500u);
  EXPECT_TRUE(sink.was_released(3));
  EXPECT_EQ(t.stats().exited_off_cpu, 1u);
  EXPECT_EQ(t.threads(), 0u);
  t.finish(9000);  // nothing left to charge
  EXPECT_EQ(sink.charged.size(), 1u);
}

TEST(OffCpuTracker, MissingSwitchInLeavesThatBlockUncharged) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 1);
  t.switch_out(10, 11, 1001, false);
  // The switch-in was lost: the next switch-out comes while the thread seems off CPU.
  t.switch_out_sample(10, 11, 3000, 2);
  t.switch_out(10, 11, 3001, false);
  t.switch_in(10, 11, 3500);
  EXPECT_EQ(t.stats().missing_switch_in, 1u);
  EXPECT_EQ(sink.total(1, false), 0u);
  EXPECT_TRUE(sink.was_released(1));
  EXPECT_EQ(sink.total(2, false), 500u);
}

TEST(OffCpuTracker, SwitchOutWithoutItsSampleIsChargedWithoutAStack) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out(10, 11, 1000, false);
  t.switch_in(10, 11, 1600);
  ASSERT_EQ(sink.charged.size(), 1u);
  EXPECT_EQ(sink.charged[0].stack, kNoStack);
  EXPECT_EQ(sink.charged[0].ns(), 600u);
  EXPECT_EQ(t.stats().missing_stack, 1u);
}

TEST(OffCpuTracker, EventsSeenTwiceAreChargedOnce) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 1000, 1);
  t.switch_out_sample(10, 11, 1000, 2);  // the same switch through a second event
  t.switch_out(10, 11, 1001, false);
  t.switch_out(10, 11, 1001, false);
  t.switch_in(10, 11, 2000);
  t.switch_in(10, 11, 2000);
  EXPECT_EQ(sink.total(1, false), 1000u);
  EXPECT_EQ(sink.charged.size(), 1u);
  EXPECT_TRUE(sink.was_released(1));
  EXPECT_TRUE(sink.was_released(2));
  EXPECT_EQ(t.stats().duplicates, 3u);
}

TEST(OffCpuTracker, LongBlockIsChargedInPartsAtWindowEnds) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 100, 1);
  t.switch_out(10, 11, 101, false);
  t.flush(600);
  ASSERT_EQ(sink.charged.size(), 1u);
  EXPECT_FALSE(sink.charged[0].ended);
  EXPECT_EQ(sink.charged[0].ns(), 500u);
  EXPECT_TRUE(sink.released.empty());
  t.switch_in(10, 11, 1000);
  ASSERT_EQ(sink.charged.size(), 2u);
  EXPECT_EQ(sink.charged[1].from, 600u);
  EXPECT_EQ(sink.charged[1].ns(), 400u);
  EXPECT_EQ(sink.charged[1].block_ns(), 900u);  // the whole block decides how it is unwound
  EXPECT_TRUE(sink.was_released(1));
}

TEST(OffCpuTracker, ThreadAsleepSinceBeforeTheStartIsCounted) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.existing_thread(10, 11, 0, /*runnable=*/false);  // wakes up during the recording
  t.existing_thread(10, 12, 0, /*runnable=*/false);  // sleeps throughout
  t.existing_thread(10, 13, 0, /*runnable=*/true);   // runs throughout: CPU samples show it
  t.switch_in(10, 11, 700);
  ASSERT_EQ(sink.charged.size(), 1u);
  EXPECT_EQ(sink.charged[0].origin, OffCpuOrigin::kBeforeStart);
  EXPECT_EQ(sink.charged[0].ns(), 700u);
  t.switch_out_sample(10, 11, 800, 5);  // from now on an ordinary thread
  t.switch_out(10, 11, 801, false);
  t.switch_in(10, 11, 900);
  EXPECT_EQ(sink.total(5, false), 100u);
  t.finish(1000);
  uint64_t before = 0;
  for (const auto& i : sink.charged) {
    if (i.origin == OffCpuOrigin::kBeforeStart && i.tid == 12) before += i.ns();
    EXPECT_NE(i.tid, 13);
  }
  EXPECT_EQ(before, 1000u);
  EXPECT_EQ(t.stats().before_start, 2u);
}

TEST(OffCpuTracker, ThreadIdReusedByAnotherProcessStartsAfresh) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 100, 1);
  t.switch_out(10, 11, 101, false);
  // Thread 11 exited unseen; a new process got its id.
  t.switch_out_sample(20, 11, 500, 2);
  t.switch_out(20, 11, 501, false);
  t.switch_in(20, 11, 800);
  EXPECT_EQ(sink.total(1, false), 0u);
  EXPECT_TRUE(sink.was_released(1));
  ASSERT_EQ(sink.charged.size(), 1u);
  EXPECT_EQ(sink.charged[0].pid, 20);
  EXPECT_EQ(sink.charged[0].ns(), 300u);
}

TEST(OffCpuTracker, FinishChargesThreadsStillOffCpuAndReleasesEverything) {
  RecordingSink sink;
  OffCpuTracker t(sink);
  t.switch_out_sample(10, 11, 100, 1);
  t.switch_out(10, 11, 101, true);
  t.switch_out_sample(10, 12, 200, 2);
  t.finish(1000);
  EXPECT_EQ(sink.total(1, true), 900u);
  EXPECT_EQ(sink.total(2, false), 800u);
  EXPECT_TRUE(sink.was_released(1));
  EXPECT_TRUE(sink.was_released(2));
  EXPECT_EQ(t.threads(), 0u);
}

}  // namespace
}  // namespace ember::collector
