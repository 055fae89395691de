#include "collector/reorder_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

namespace ember::collector {
namespace {

// A record here is just its time and the CPU ring it came from, 16 bytes.
std::vector<std::byte> record(uint64_t time, uint64_t cpu) {
  std::vector<std::byte> b(16);
  std::memcpy(b.data(), &time, 8);
  std::memcpy(b.data() + 8, &cpu, 8);
  return b;
}

struct Delivered {
  uint64_t time;
  uint64_t cpu;
};

class Collect {
 public:
  ReorderQueue::Sink sink() {
    return [this](uint64_t time, std::span<const std::byte> bytes) {
      Delivered d{};
      std::memcpy(&d.time, bytes.data(), 8);
      std::memcpy(&d.cpu, bytes.data() + 8, 8);
      EXPECT_EQ(d.time, time);
      out.push_back(d);
    };
  }
  std::vector<Delivered> out;
};

bool is_time_ordered(const std::vector<Delivered>& v) {
  return std::is_sorted(v.begin(), v.end(), [](const Delivered& a, const Delivered& b) { return a.time < b.time; });
}

TEST(ReorderQueue, ShuffledPerCpuStreamsComeOutInTimeOrder) {
  // Four CPUs, each ring in time order on its own, read in bursts that interleave arbitrarily:
  // what a reader of per-CPU rings sees.
  std::mt19937 rng(12345);
  constexpr int kCpus = 4;
  constexpr int kPerCpu = 2000;
  std::vector<std::vector<uint64_t>> streams(kCpus);
  std::uniform_int_distribution<uint64_t> gap(1, 1000);
  for (auto& s : streams) {
    uint64_t t = 0;
    for (int i = 0; i < kPerCpu; ++i) s.push_back(t += gap(rng));
  }
  Collect c;
  ReorderQueue q(1u << 30, c.sink());
  std::vector<size_t> pos(kCpus, 0);
  uint64_t read_clock = 0;  // the time up to which everything has been "written"
  while (true) {
    bool any = false;
    read_clock += 20000;
    std::vector<int> order(kCpus);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int cpu : order) {
      while (pos[cpu] < streams[cpu].size() && streams[cpu][pos[cpu]] <= read_clock) {
        q.push(streams[cpu][pos[cpu]], record(streams[cpu][pos[cpu]], cpu));
        pos[cpu]++;
        any = true;
      }
    }
    // Flush with a delay: records older than that have all been read.
    if (read_clock > 20000) q.flush_until(read_clock - 20000);
    if (!any && std::all_of(pos.begin(), pos.end(), [&](size_t p) { return p == kPerCpu; })) break;
  }
  q.flush_all();
  ASSERT_EQ(c.out.size(), static_cast<size_t>(kCpus * kPerCpu));
  EXPECT_TRUE(is_time_ordered(c.out));
  EXPECT_EQ(q.stats().out_of_order, 0u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(ReorderQueue, FullyShuffledBatchIsSorted) {
  std::mt19937 rng(7);
  std::vector<uint64_t> times(5000);
  std::iota(times.begin(), times.end(), 1);
  std::shuffle(times.begin(), times.end(), rng);
  Collect c;
  ReorderQueue q(1u << 30, c.sink());
  for (uint64_t t : times) q.push(t, record(t, 0));
  q.flush_until(2500);
  ASSERT_EQ(c.out.size(), 2500u);
  EXPECT_TRUE(is_time_ordered(c.out));
  EXPECT_EQ(c.out.back().time, 2500u);
  q.flush_all();
  ASSERT_EQ(c.out.size(), 5000u);
  EXPECT_TRUE(is_time_ordered(c.out));
}

TEST(ReorderQueue, EqualTimesKeepArrivalOrder) {
  Collect c;
  ReorderQueue q(1u << 20, c.sink());
  q.push(10, record(10, 1));
  q.push(5, record(5, 9));
  q.push(10, record(10, 2));
  q.push(10, record(10, 3));
  q.flush_all();
  ASSERT_EQ(c.out.size(), 4u);
  EXPECT_EQ(c.out[0].cpu, 9u);
  EXPECT_EQ(c.out[1].cpu, 1u);
  EXPECT_EQ(c.out[2].cpu, 2u);
  EXPECT_EQ(c.out[3].cpu, 3u);
}

TEST(ReorderQueue, LateRecordIsDeliveredAndCounted) {
  Collect c;
  ReorderQueue q(1u << 20, c.sink());
  q.push(100, record(100, 0));
  q.flush_until(150);
  q.push(120, record(120, 1));  // older than what was already handed out
  EXPECT_EQ(q.stats().out_of_order, 1u);
  q.flush_until(150);
  ASSERT_EQ(c.out.size(), 2u);
  EXPECT_EQ(c.out[1].time, 120u);
}

TEST(ReorderQueue, MemoryBoundForcesOldestHalfOut) {
  Collect c;
  ReorderQueue q(16 * 100, c.sink());  // room for 100 records
  for (uint64_t t = 1000; t > 0; --t) q.push(t, record(t, 0));
  EXPECT_GT(q.stats().forced_flushes, 0u);
  EXPECT_LE(q.bytes(), 16u * 100);
  EXPECT_FALSE(c.out.empty());
  // What was forced out went oldest first within each batch.
  q.flush_all();
  EXPECT_EQ(c.out.size(), 1000u);
}

}  // namespace
}  // namespace ember::collector
