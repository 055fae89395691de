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

TEST(Unwinder, DwarfModeIsReservedWithAClearError) {
  auto u = make_user_unwinder(CallGraphMode::kDwarf, 32768);
  ASSERT_FALSE(u.has_value());
  EXPECT_EQ(u.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(u.error().message(),
            "DWARF call graphs are not available in this build yet; use frame pointers (build the "
            "target with -fno-omit-frame-pointer)");
  EXPECT_TRUE(make_user_unwinder(CallGraphMode::kFramePointer, 0).has_value());
}

}  // namespace
}  // namespace ember::collector
