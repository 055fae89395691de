// OffCpuStacks on synthesized switch-out samples: which blocks are unwound, which reuse a stack
// unwound before at the same place, which drop their stack copy on arrival, and the stand-ins.

#include "collector/off_cpu_stacks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "record_encoder.h"

namespace ember::collector {
namespace {

using test::Bytes;
using test::SampleValues;

class FakeHost final : public OffCpuHost {
 public:
  bool unwind_switch_out(const SampleRecord& s, std::vector<UnwoundFrame>& out) override {
    unwinds++;
    out.clear();
    out.push_back(UnwoundFrame{common::ProcessAddress(0xffffffff81000000), true, true});
    out.push_back(UnwoundFrame{common::ProcessAddress(s.regs_user.size() > 2 ? s.regs_user[2] : 0), false, true});
    if (!s.stack_user.empty()) out.push_back(UnwoundFrame{common::ProcessAddress(0x401000), false, false});
    return !s.stack_user.empty();
  }
  void add_off_cpu(int32_t, int32_t tid, std::span<const UnwoundFrame> frames,
                   const std::shared_ptr<const profile::Module>& stand_in,
                   const profile::RawStackCounts& counts, const OffCpuPython& python) override {
    Charge c;
    c.tid = tid;
    c.depth = frames.size();
    c.stand_in = stand_in ? stand_in->path : "";
    c.counts = counts;
    c.python = python;
    charges.push_back(c);
  }
  struct Charge {
    int32_t tid = 0;
    size_t depth = 0;
    std::string stand_in;
    profile::RawStackCounts counts;
    OffCpuPython python;
  };
  int unwinds = 0;
  std::vector<Charge> charges;
};

SampleFormat switch_format() {
  SampleFormat f = test::ember_format();
  f.sample_type |= kSampleRegsUser | kSampleStackUser;
  f.regs_user_mask = (1ull << 6) | (1ull << 7) | (1ull << 8);  // bp, sp, ip
  return f;
}

// A switch-out sample of thread 11 at `time`, from user pc `pc` with stack pointer `sp`.
Bytes switch_out(uint64_t time, uint64_t pc, uint64_t sp) {
  SampleValues s;
  s.id = {10, 11, time, 5, 0};
  s.period = 1;
  s.misc = kMiscKernel;
  s.callchain = {kContextKernel, 0xffffffff81000000, 0xffffffff81000100, kContextUser, pc};
  s.regs_abi = 2;
  s.regs = {0x7ffc0000, sp, pc};
  s.stack.assign(8192, std::byte{0x5a});
  s.stack_dynamic_size = 8192;
  return test::encode_sample(switch_format(), s);
}

struct Harness {
  FakeHost host;
  SampleFormat format = switch_format();
  OffCpuStacks stacks;
  explicit Harness(uint64_t threshold_ns) : stacks(host, format, threshold_ns) {}

  // Arrival: the switch-out as the reorder queue keeps it (compacted or not).
  Bytes arrive(uint64_t time, uint64_t pc = 0x7f0000001000, uint64_t sp = 0x7ffc1000) {
    Bytes raw = switch_out(time, pc, sp);
    auto first = decode_record(raw, format);
    EXPECT_TRUE(first.has_value());
    auto cut = stacks.compact(std::get<SampleRecord>(first->body), raw);
    if (!cut) return raw;
    Bytes kept(cut->size());
    write_stack_cut(*cut, *first, raw, kept);
    return kept;
  }
  // Arrival, then the switch-out, its record and the switch-in `length` later.
  size_t block(uint64_t time, uint64_t length, uint64_t pc = 0x7f0000001000, uint64_t sp = 0x7ffc1000) {
    return apply(arrive(time, pc, sp), time, length);
  }
  // The queued switch-out applied, with its switch records.
  size_t apply(const Bytes& queued, uint64_t time, uint64_t length) {
    auto rec = decode_record(queued, format);
    EXPECT_TRUE(rec.has_value());
    stacks.on_switch_out_sample(std::get<SampleRecord>(rec->body), queued);
    SwitchRecord out;
    out.sid = {10, 11, time + 1, 5, 0, 0, true};
    out.out = true;
    stacks.on_switch(out);
    SwitchRecord in;
    in.sid = {10, 11, time + length, 5, 0, 0, true};
    stacks.on_switch(in);
    return queued.size();
  }
};

TEST(OffCpuStacks, LongBlockIsUnwoundAndItsPlaceRemembered) {
  Harness r(100'000);
  const size_t first = r.block(1'000'000, 500'000);
  EXPECT_GT(first, 8192u);  // a new place keeps its stack copy
  EXPECT_EQ(r.host.unwinds, 1);
  ASSERT_EQ(r.host.charges.size(), 1u);
  EXPECT_EQ(r.host.charges[0].counts.blocked_ns, 500'000u);
  EXPECT_EQ(r.host.charges[0].depth, 3u);
  // The same place again: the record arrives without its stack copy and reuses the stack.
  const size_t second = r.block(2'000'000, 20'000);
  EXPECT_LT(second, 512u);
  EXPECT_EQ(r.host.unwinds, 1);
  ASSERT_EQ(r.host.charges.size(), 2u);
  EXPECT_EQ(r.host.charges[1].depth, 3u);
  EXPECT_EQ(r.host.charges[1].counts.blocked_ns, 20'000u);
  const OffCpuCounters c = r.stacks.counters();
  EXPECT_EQ(c.unwound, 1u);
  EXPECT_EQ(c.remembered, 1u);
  EXPECT_EQ(c.compacted, 1u);
  EXPECT_EQ(c.pending_bytes, 0u);
}

// A backlog read at once (the start of a recording, a poller woken at a quarter of the ring):
// only the first switch-out from a place keeps its stack copy; the others take its stack.
TEST(OffCpuStacks, SwitchOutsReadBeforeTheirPlaceIsUnwoundDropTheirCopies) {
  Harness r(100'000);
  std::vector<Bytes> queued;
  for (uint64_t i = 0; i < 3; ++i) queued.push_back(r.arrive(1'000'000 * (i + 1)));
  EXPECT_GT(queued[0].size(), 8192u);
  EXPECT_LT(queued[1].size(), 512u);
  EXPECT_LT(queued[2].size(), 512u);
  for (uint64_t i = 0; i < 3; ++i) r.apply(queued[i], 1'000'000 * (i + 1), 20'000);
  EXPECT_EQ(r.host.unwinds, 1);
  ASSERT_EQ(r.host.charges.size(), 3u);
  for (const auto& c : r.host.charges) EXPECT_EQ(c.depth, 3u);
  const OffCpuCounters c = r.stacks.counters();
  EXPECT_EQ(c.compacted, 2u);
  EXPECT_EQ(c.remembered, 2u);
  EXPECT_EQ(c.pending_bytes, 0u);
}

// When the first switch-out from a place is not unwound after all (short, past the unwind
// budget), those that dropped their copy behind it get what is known without a stack, as it
// did: kernel frames and the user pc, counted as not unwound, never an unwind of no stack.
TEST(OffCpuStacks, CopiesDroppedBehindAFirstPastTheBudgetKeepKernelFramesAndPc) {
  Harness r(100'000);
  // Spend the budget (a second's worth) at ever new places, within microseconds.
  uint64_t time = 1'000'000;
  for (uint64_t i = 0; i < 1000; ++i, time += 20) r.block(time, 10, 0x7f0000100000 + i * 16);
  const int spent = r.host.unwinds;
  const uint64_t not_unwound = r.stacks.counters().not_unwound;
  const Bytes first = r.arrive(time, 0x7f0000002000);
  const Bytes second = r.arrive(time + 100, 0x7f0000002000);
  EXPECT_GT(first.size(), 8192u);
  EXPECT_LT(second.size(), 512u);
  r.apply(first, time, 10);
  r.apply(second, time + 100, 10);
  EXPECT_EQ(r.host.unwinds, spent);
  EXPECT_EQ(r.stacks.counters().not_unwound, not_unwound + 2);
  ASSERT_GE(r.host.charges.size(), 2u);
  EXPECT_EQ(r.host.charges.back().depth, 3u);  // two kernel frames and the pc
  EXPECT_EQ(r.stacks.counters().pending_bytes, 0u);
}

TEST(OffCpuStacks, ThresholdZeroUnwindsEverySwitch) {
  Harness r(0);
  r.block(1'000'000, 500'000);
  EXPECT_GT(r.block(2'000'000, 20'000), 8192u);
  EXPECT_EQ(r.host.unwinds, 2);
  EXPECT_EQ(r.stacks.counters().remembered, 0u);
}

TEST(OffCpuStacks, ShortBlocksAtNewPlacesAreUnwoundWithinABudget) {
  Harness r(100'000);
  // 1,500 short blocks at 1,500 different places within 0.15 ms: the budget (1,000 a second, a
  // second's worth at once) unwinds 1,000; the rest keep their kernel frames and user pc.
  for (uint64_t i = 0; i < 1500; ++i) r.block(1'000'000 + i * 100, 50, 0x7f0000001000 + 16 * i);
  const OffCpuCounters c = r.stacks.counters();
  EXPECT_EQ(c.unwound, 1000u);
  EXPECT_EQ(c.not_unwound, 500u);
  EXPECT_EQ(r.host.charges.size(), 1500u);
  EXPECT_EQ(r.host.charges.back().depth, 3u);  // two kernel frames and the user pc
  EXPECT_EQ(c.switches.charged_ns, 1500u * 50u);
}

TEST(OffCpuStacks, ThreadsAsleepSinceTheStartAndLostSamplesGetStandIns) {
  Harness r(100'000);
  SwitchRecord out;  // a switch-out whose sample was lost
  out.sid = {10, 12, 1'000, 5, 0, 0, true};
  out.out = true;
  r.stacks.on_switch(out);
  SwitchRecord in = out;
  in.out = false;
  in.sid.time = 9'000;
  r.stacks.on_switch(in);
  ASSERT_EQ(r.host.charges.size(), 1u);
  EXPECT_EQ(r.host.charges[0].stand_in, "[off-cpu: switch-out sample lost]");
  EXPECT_EQ(r.host.charges[0].counts.blocked_ns, 8'000u);
}

// The Python stack read at a switch-out is merged only if the read ended before the thread was
// back: each charge says until when the thread is known to have stayed off CPU.
TEST(OffCpuStacks, EachChargeSaysUntilWhenTheThreadStayedOff) {
  Harness r(100'000);
  r.block(1'000'000, 500'000);  // ended by its switch-in at 1,500,000
  ASSERT_EQ(r.host.charges.size(), 1u);
  EXPECT_EQ(r.host.charges[0].python.off_until, 1'500'000u);
  EXPECT_TRUE(r.host.charges[0].python.first_charge);
  EXPECT_TRUE(r.host.charges[0].python.native_complete);  // unwound from its stack copy

  // A block still open when the window ends: charged until the flush, but known to be off CPU
  // only until the last record applied.
  Bytes raw = switch_out(3'000'000, 0x7f0000002000, 0x7ffc2000);
  auto rec = decode_record(raw, r.format);
  ASSERT_TRUE(rec.has_value());
  r.stacks.on_switch_out_sample(std::get<SampleRecord>(rec->body), raw);
  r.stacks.applied_until(3'400'000);
  r.stacks.flush(4'000'000);
  ASSERT_EQ(r.host.charges.size(), 2u);
  EXPECT_EQ(r.host.charges[1].counts.blocked_ns, 1'000'000u);
  EXPECT_EQ(r.host.charges[1].python.off_until, 3'400'000u);
  EXPECT_TRUE(r.host.charges[1].python.first_charge);
  // The rest of the block, after the thread's exit (its switch-in lost): when it ran again is
  // unknown, so nothing past the switch-out is vouched for.
  r.stacks.on_exit(10, 11, 4'500'000);
  ASSERT_EQ(r.host.charges.size(), 3u);
  EXPECT_EQ(r.host.charges[2].counts.blocked_ns, 500'000u);
  EXPECT_EQ(r.host.charges[2].python.off_until, 3'000'000u);
  EXPECT_FALSE(r.host.charges[2].python.first_charge);
}

}  // namespace
}  // namespace ember::collector
