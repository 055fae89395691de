#include "collector/unwinder.h"

#include <gtest/gtest.h>

#include "collector/process_table.h"
#include "record_encoder.h"

namespace ember::collector {
namespace {

SampleRecord decode_sample(const test::Bytes& bytes) {
  auto r = decode_record(bytes, test::ember_format());
  EXPECT_TRUE(r.has_value());
  return std::get<SampleRecord>(r->body);
}

TEST(SplitCallchain, KernelThenUser) {
  test::SampleValues v;
  v.callchain = {kContextKernel, 0xffffffff81000001, 0xffffffff81000002, kContextUser, 0x401000, 0x402000, 0x403000};
  test::Bytes bytes = test::encode_sample(test::ember_format(), v);
  SampleRecord s = decode_sample(bytes);
  SplitCallchain split = split_callchain(s);
  ASSERT_EQ(split.kernel.size(), 2u);
  EXPECT_EQ(split.kernel[0], 0xffffffff81000001u);
  ASSERT_EQ(split.user.size(), 3u);
  EXPECT_EQ(split.user[2], 0x403000u);
}

TEST(SplitCallchain, GuestFramesAreDropped) {
  constexpr uint64_t kContextGuest = static_cast<uint64_t>(-2048);
  test::SampleValues v;
  v.callchain = {kContextGuest, 0x1, 0x2, kContextUser, 0x401000};
  test::Bytes bytes = test::encode_sample(test::ember_format(), v);
  SplitCallchain split = split_callchain(decode_sample(bytes));
  EXPECT_TRUE(split.kernel.empty());
  ASSERT_EQ(split.user.size(), 1u);
}

TEST(SplitCallchain, NoCallchainUsesTheIp) {
  test::SampleValues v;
  v.ip = 0xffffffff81234567;
  v.misc = kMiscKernel;
  test::Bytes bytes = test::encode_sample(test::ember_format(), v);
  SplitCallchain split = split_callchain(decode_sample(bytes));
  EXPECT_TRUE(split.ip_only_kernel);
  EXPECT_FALSE(split.ip_only_user);
}

TEST(Unwinder, FramePointerFramesMarkTheInterruptedAddressOfEachContext) {
  test::SampleValues v;
  v.callchain = {kContextKernel, 0xffffffff81000001, 0xffffffff81000002, kContextUser, 0x401000, 0x402000, 0};
  test::Bytes bytes = test::encode_sample(test::ember_format(), v);
  SampleRecord s = decode_sample(bytes);
  Unwinder unwinder(std::make_unique<FramePointerUnwinder>());
  SampleContext ctx;
  std::vector<UnwoundFrame> frames;
  unwinder.unwind(ctx, s, frames);
  ASSERT_EQ(frames.size(), 4u);  // the trailing 0 ends the walk
  EXPECT_TRUE(frames[0].kernel);
  EXPECT_TRUE(frames[0].interrupted);
  EXPECT_TRUE(frames[1].kernel);
  EXPECT_FALSE(frames[1].interrupted);
  EXPECT_FALSE(frames[2].kernel);
  EXPECT_TRUE(frames[2].interrupted);  // where user code entered the kernel
  EXPECT_EQ(frames[2].address.value(), 0x401000u);
  EXPECT_FALSE(frames[3].interrupted);
  EXPECT_EQ(unwinder.stats().kernel_frames, 2u);
  EXPECT_EQ(unwinder.stats().user_frames, 2u);
}

TEST(Unwinder, DwarfModeTakesStackSizesTheKernelAccepts) {
  auto u = make_user_unwinder(CallGraphMode::kDwarf, 32768);
  ASSERT_TRUE(u.has_value()) << u.error().message();
  EXPECT_FALSE((*u)->needs().user_callchain);
  EXPECT_EQ((*u)->needs().stack_user_bytes, 32768u);
  auto bad = make_user_unwinder(CallGraphMode::kDwarf, 100000);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(make_user_unwinder(CallGraphMode::kDwarf, 1001).has_value());
  EXPECT_TRUE(make_user_unwinder(CallGraphMode::kFramePointer, 0).has_value());
}

// Records what it was asked, as an unwinder that reads registers and stack does.
class StackWalker final : public UserUnwinder {
 public:
  PerfSampleNeeds needs() const override { return {false, 0x1ff, 8192}; }
  void unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) override {
    calls++;
    out.push_back(UnwoundFrame{common::ProcessAddress(sample.ip), false, true});
    out.push_back(UnwoundFrame{common::ProcessAddress(0x402000), false, false});
  }
  int calls = 0;
};

TEST(Unwinder, AStackWalkerGetsUserSamplesWhoseCallchainIsEmpty) {
  // exclude_callchain_user: a user-mode sample has no callchain at all; the walker must still
  // be asked (with only the IP, the caller chain would be lost).
  test::SampleValues v;
  v.ip = 0x401000;
  v.misc = kMiscUser;
  test::Bytes bytes = test::encode_sample(test::ember_format(), v);
  SampleRecord s = decode_sample(bytes);
  auto walker = std::make_unique<StackWalker>();
  StackWalker* w = walker.get();
  Unwinder unwinder(std::move(walker));
  SampleContext ctx;
  ctx.ip = s.ip;
  std::vector<UnwoundFrame> frames;
  unwinder.unwind(ctx, s, frames);
  EXPECT_EQ(w->calls, 1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].address.value(), 0x402000u);
}

}  // namespace
}  // namespace ember::collector
