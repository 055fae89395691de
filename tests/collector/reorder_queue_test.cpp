#include "collector/reorder_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include "record_encoder.h"

namespace ember::collector {
namespace {

using test::append_sample_id;
using test::Bytes;
using test::ember_format;
using test::Encoder;
using test::SampleIdValues;

// A record here is a COMM record of its time whose name tells the CPU ring it came from, so
// that what comes out shows its views were moved to the queue's copy of the bytes.
Bytes record(uint64_t time, uint64_t cpu) {
  Encoder e;
  e.u32(1).u32(1).padded_string("cpu" + std::to_string(cpu));
  append_sample_id(e, ember_format(), SampleIdValues{1, 1, time, 0, static_cast<uint32_t>(cpu)});
  return e.finish(RecordType::kComm);
}
const size_t kRecordBytes = record(0, 0).size();

struct Delivered {
  uint64_t time;
  uint64_t cpu;
};

class Collect {
 public:
  ReorderQueue::Sink sink() {
    return [this](const Record& r, std::span<const std::byte>) {
      const auto& comm = std::get<CommRecord>(r.body).comm;
      EXPECT_EQ(comm.substr(0, 3), "cpu");
      out.push_back(Delivered{r.time(), std::stoull(std::string(comm.substr(3)))});
    };
  }
  std::vector<Delivered> out;
};

// Decodes `bytes` and queues it; the bytes are gone (overwritten) right after, as a ring's are.
void push(ReorderQueue& q, Bytes bytes) {
  auto r = decode_record(bytes, ember_format());
  ASSERT_TRUE(r.has_value());
  q.push(*r, bytes);
  std::fill(bytes.begin(), bytes.end(), std::byte{0xee});
}

bool is_time_ordered(const std::vector<Delivered>& v) {
  return std::is_sorted(v.begin(), v.end(), [](const Delivered& a, const Delivered& b) { return a.time < b.time; });
}

// A record written into the queue's own room (as the Recorder writes a sample with its stack
// copy cut short) and decoded there comes out like a pushed one, in time order with them, with
// its views on its bytes even after the queue has grown and moved; a reserve that was not
// committed leaves nothing behind.
TEST(ReorderQueue, RecordsWrittenInPlaceComeOutWithPushedOnes) {
  Collect c;
  ReorderQueue q(1u << 30, c.sink());
  auto write_in_place = [&](uint64_t time, uint64_t cpu) {
    const Bytes bytes = record(time, cpu);
    std::span<std::byte> room = q.reserve(bytes.size());
    ASSERT_EQ(room.size(), bytes.size());
    std::memcpy(room.data(), bytes.data(), bytes.size());
    auto r = decode_record(room, ember_format());
    ASSERT_TRUE(r.has_value());
    q.commit(*r);
  };
  (void)q.reserve(kRecordBytes);  // never committed
  for (uint64_t i = 0; i < 3000; ++i) {  // enough to grow the arena several times
    if (i % 2 == 0) {
      write_in_place(10 * i + 5, i % 7);
    } else {
      push(q, record(10 * i, i % 7));
    }
  }
  (void)q.reserve(kRecordBytes);  // never committed either
  q.flush_all();
  ASSERT_EQ(c.out.size(), 3000u);
  EXPECT_TRUE(is_time_ordered(c.out));
  for (size_t i = 0; i < c.out.size(); ++i) EXPECT_EQ(c.out[i].cpu, (c.out[i].time / 10) % 7) << i;
  EXPECT_EQ(q.bytes(), 0u);
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
        push(q, record(streams[cpu][pos[cpu]], cpu));
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
  for (uint64_t t : times) push(q, record(t, 0));
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
  push(q, record(10, 1));
  push(q, record(5, 9));
  push(q, record(10, 2));
  push(q, record(10, 3));
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
  push(q, record(100, 0));
  q.flush_until(150);
  push(q, record(120, 1));  // older than what was already handed out
  EXPECT_EQ(q.stats().out_of_order, 1u);
  q.flush_until(150);
  ASSERT_EQ(c.out.size(), 2u);
  EXPECT_EQ(c.out[1].time, 120u);
}

TEST(ReorderQueue, MemoryBoundForcesOldestHalfOut) {
  Collect c;
  ReorderQueue q(kRecordBytes * 100, c.sink());  // room for 100 records
  for (uint64_t t = 1000; t > 0; --t) push(q, record(t, 0));
  EXPECT_GT(q.stats().forced_flushes, 0u);
  EXPECT_LE(q.bytes(), kRecordBytes * 100);
  EXPECT_FALSE(c.out.empty());
  // What was forced out went oldest first within each batch.
  q.flush_all();
  EXPECT_EQ(c.out.size(), 1000u);
}

// A flush after every record (the poller woken at every sample, as with Python frames): the due
// record is handed out where it lies and the others are compacted now and then, never lost or
// mixed up, whatever the sizes and the interleaving.
TEST(ReorderQueue, AFlushPerRecordHandsEveryRecordOutIntact) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint64_t> cpu_of(0, 999);
  Collect c;
  ReorderQueue q(1u << 30, c.sink());
  uint64_t time = 0;
  std::vector<Delivered> sent;
  for (int i = 0; i < 3000; ++i) {
    time += 100;
    // Two interleaved streams, one 1,000 behind: the queue holds ~10 records at any time.
    const uint64_t t = i % 2 ? time : time - 1000;
    const uint64_t cpu = cpu_of(rng);  // names of 4 to 6 characters: records of several sizes
    sent.push_back(Delivered{t, cpu});
    push(q, record(t, cpu));
    if (time > 1500) q.flush_until(time - 1500);
    EXPECT_LE(q.size(), 40u);
  }
  q.flush_all();
  ASSERT_EQ(c.out.size(), sent.size());
  EXPECT_TRUE(is_time_ordered(c.out));
  std::stable_sort(sent.begin(), sent.end(), [](const Delivered& a, const Delivered& b) { return a.time < b.time; });
  for (size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(c.out[i].time, sent[i].time) << i;
    ASSERT_EQ(c.out[i].cpu, sent[i].cpu) << i;
  }
  EXPECT_EQ(q.bytes(), 0u);
}

}  // namespace
}  // namespace ember::collector
