// Kernel-side Python records meet their samples: by TID, CPU, instruction pointer and the
// nearest time, taken out one by one (a thread's samples come ring after ring), expired late.
#include "collector/python_kernel_records.h"

#include <gtest/gtest.h>

#include <memory>

namespace ember::collector {
namespace {

constexpr uint64_t kScheduler = 0xffffffff82248b73;  // every switch-out's address

std::unique_ptr<ember_py_stack> record(int32_t tid, uint32_t cpu, uint64_t time, uint64_t ip, uint64_t code) {
  auto r = std::make_unique<ember_py_stack>();
  r->time = time;
  r->ip = ip;
  r->pid = 100;
  r->tid = static_cast<uint32_t>(tid);
  r->cpu = cpu;
  r->status = EMBER_PY_OK;
  r->frames = 1;
  r->frame[0].code = code;  // tells the records apart
  return r;
}

uint64_t code_of(const ember_py_stack* k) { return k ? k->frame[0].code : 0; }

TEST(KernelRecordQueue, SwitchOutsOfOneThreadOnTwoCpusMeetTheirOwnSamples) {
  KernelRecordQueue q;
  // The thread switched out on CPU 1 at t = 1 ms, then on CPU 0 200 µs later; CPU 0's ring is
  // read first.
  q.push(*record(7, 1, 1'000'000, kScheduler, 0xa1));
  q.push(*record(7, 0, 1'200'000, kScheduler, 0xb0));
  EXPECT_EQ(code_of(q.take(7, 0, 1'200'003, kScheduler)), 0xb0u);
  EXPECT_EQ(code_of(q.take(7, 1, 1'000'002, kScheduler)), 0xa1u);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(KernelRecordQueue, TheNearestTimeWinsAndFarRecordsDoNot) {
  KernelRecordQueue q;
  q.push(*record(7, 0, 1'000'000, 0x401000, 0x1));
  q.push(*record(7, 0, 1'050'000, 0x401000, 0x2));  // the same loop, 50 µs later
  EXPECT_EQ(code_of(q.take(7, 0, 1'050'004, 0x401000)), 0x2u);
  // More than kMatchNs away: not this sample's.
  EXPECT_EQ(q.take(7, 0, 1'000'000 + KernelRecordQueue::kMatchNs + 5, 0x401000), nullptr);
  // Another thread, another CPU or another address: not this sample's either.
  EXPECT_EQ(q.take(8, 0, 1'000'001, 0x401000), nullptr);
  EXPECT_EQ(q.take(7, 1, 1'000'001, 0x401000), nullptr);
  EXPECT_EQ(q.take(7, 0, 1'000'001, 0x401004), nullptr);
  EXPECT_EQ(code_of(q.take(7, 0, 1'000'001, 0x401000)), 0x1u);
}

TEST(KernelRecordQueue, TakingANewerRecordKeepsTheOlderOnesForTheirRings) {
  KernelRecordQueue q;
  for (uint64_t i = 0; i < 10; ++i) q.push(*record(7, static_cast<uint32_t>(i % 2), 1'000'000 * (i + 1), 0x500 + i, i + 1));
  // CPU 1's ring first: samples 2, 4, ..., 10; then CPU 0's.
  for (uint64_t i = 1; i < 10; i += 2) EXPECT_EQ(code_of(q.take(7, 1, 1'000'000 * (i + 1), 0x500 + i)), i + 1);
  for (uint64_t i = 0; i < 10; i += 2) EXPECT_EQ(code_of(q.take(7, 0, 1'000'000 * (i + 1), 0x500 + i)), i + 1);
  EXPECT_EQ(q.dropped(), 0u);
}

TEST(KernelRecordQueue, RecordsWithoutTheirSampleExpireASecondLater) {
  KernelRecordQueue q;
  q.push(*record(7, 0, 1'000'000, 0x401000, 0x1));  // its sample was lost
  q.push(*record(9, 0, 1'600'000'000, 0x401000, 0x2));
  q.expire(1'000'000 + KernelRecordQueue::kKeepNs);  // not yet: a ring may still hold it
  EXPECT_EQ(q.dropped(), 0u);
  q.expire(1'000'001 + KernelRecordQueue::kKeepNs);
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.take(7, 0, 1'000'000, 0x401000), nullptr);
  EXPECT_EQ(code_of(q.take(9, 0, 1'600'000'000, 0x401000)), 0x2u);
}

TEST(KernelRecordQueue, PastItsBoundTheQueueStartsOver) {
  KernelRecordQueue q;
  auto big = record(7, 0, 1, 0x401000, 0x1);
  big->frames = EMBER_PY_MAX_FRAMES;
  const size_t each = EMBER_PY_STACK_HEADER_BYTES + EMBER_PY_MAX_FRAMES * sizeof(ember_py_frame);
  const size_t fit = (KernelRecordQueue::kMaxBytes + each - 1) / each;
  for (size_t i = 0; i < fit; ++i) q.push(*big);
  EXPECT_GE(q.bytes(), KernelRecordQueue::kMaxBytes);
  q.push(*big);
  EXPECT_EQ(q.bytes(), each);
  EXPECT_EQ(q.dropped(), fit);
  // A header claiming more frames than a record holds is cut to the most there can be.
  big->frames = 100000;
  q.push(*big);
  EXPECT_EQ(q.bytes(), 2 * each);
}

}  // namespace
}  // namespace ember::collector
