// CFI compiled into rows (cfi_rows.h): the rules compilers emit become compact rows at the
// right addresses; everything else is left to libunwind, frame by frame.

#include "collector/cfi_rows.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace ember::collector {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

// The CIE GCC emits for x86-64: CFA = rsp + 8, return address at CFA - 8.
cfi::Cie gcc_cie(const char* augmentation = "zR") {
  cfi::Cie cie;
  cie.valid = true;
  cie.version = 1;
  cie.augmentation = augmentation;
  cie.code_align = 1;
  cie.data_align = -8;
  cie.return_register = 16;
  cie.fde_encoding = eh_pe::kPcrel | eh_pe::kSdata4;
  return cie;
}
const std::vector<std::byte> kCieInstructions = bytes({0x0c, 0x07, 0x08, 0x90, 0x01});  // def_cfa rsp+8; offset r16 at cfa-8

TEST(CfiRows, AFramePointerPrologueBecomesRspThenRbpRows) {
  // push %rbp (1 byte); mov %rsp,%rbp (3 bytes); ... leave; ret at +0x20.
  const auto fde = bytes({0x41, 0x0e, 0x10, 0x86, 0x02,  // +1: cfa_offset 16; rbp at cfa-16
                          0x43, 0x0d, 0x06,              // +4: cfa register rbp
                          0x5c, 0x0c, 0x07, 0x08});      // +32: cfa = rsp + 8 (after leave)
  CompiledCfi c(0x1000);
  c.add_fde(gcc_cie(), kCieInstructions, fde, 0, 0x1100, 0x1130);
  c.finish();

  const CfiRow* entry = c.find(0x1100);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->rule, CfaRule::kRsp);
  EXPECT_EQ(entry->cfa_offset, 8);
  EXPECT_EQ(entry->saved[kSavedRbp], CfiRow::kSame);

  const CfiRow* pushed = c.find(0x1101);
  EXPECT_EQ(pushed->rule, CfaRule::kRsp);
  EXPECT_EQ(pushed->cfa_offset, 16);
  EXPECT_EQ(pushed->saved[kSavedRbp], -2);  // CFA - 16

  const CfiRow* body = c.find(0x1110);
  EXPECT_EQ(body->rule, CfaRule::kRbp);
  EXPECT_EQ(body->cfa_offset, 16);
  EXPECT_EQ(body->saved[kSavedRbp], -2);

  const CfiRow* after_leave = c.find(0x1120);
  EXPECT_EQ(after_leave->rule, CfaRule::kRsp);
  EXPECT_EQ(after_leave->cfa_offset, 8);

  // Past the FDE and before it: no CFI.
  EXPECT_EQ(c.find(0x1130)->rule, CfaRule::kNoCfi);
  EXPECT_EQ(c.find(0x10ff), nullptr);
}

TEST(CfiRows, RememberAndRestoreStateBringBackTheEpilogueRules) {
  // push %rbx at +1; remember; pop at +5 (cfa 8); restore at +6 (a second path still pushed).
  const auto fde = bytes({0x41, 0x0e, 0x10, 0x83, 0x02, 0x0a, 0x44, 0x0e, 0x08, 0x41, 0x0b});
  CompiledCfi c(0);
  c.add_fde(gcc_cie(), kCieInstructions, fde, 0, 0x200, 0x240);
  c.finish();
  EXPECT_EQ(c.find(0x204)->cfa_offset, 16);
  EXPECT_EQ(c.find(0x204)->saved[0], -2);  // rbx at CFA - 16
  EXPECT_EQ(c.find(0x205)->cfa_offset, 8);
  EXPECT_EQ(c.find(0x206)->cfa_offset, 16);
  EXPECT_EQ(c.find(0x206)->saved[0], -2);
}

TEST(CfiRows, ThePltExpressionIsCompactAndOtherExpressionsFallBack) {
  // binutils' .plt: rsp + 8, + 8 past byte 11 of each 16-byte entry.
  const auto plt = bytes({0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22});
  // A realigned main: CFA = [rbp - 8] (DW_OP_breg6 -8; DW_OP_deref).
  const auto realigned = bytes({0x4a, 0x0f, 0x03, 0x76, 0x78, 0x06});
  CompiledCfi c(0);
  c.add_fde(gcc_cie(), kCieInstructions, plt, 0, 0x100, 0x140);
  c.add_fde(gcc_cie(), kCieInstructions, realigned, 0, 0x140, 0x180);
  c.finish();
  const CfiRow* p = c.find(0x110);
  EXPECT_EQ(p->rule, CfaRule::kPlt);
  EXPECT_EQ(p->cfa_offset, 8);
  EXPECT_EQ(p->plt_threshold(), 11);
  EXPECT_EQ(c.find(0x141)->rule, CfaRule::kRsp);  // before the expression
  EXPECT_EQ(c.find(0x14a)->rule, CfaRule::kFallback);
}

TEST(CfiRows, UndefinedReturnAddressMarksTheRootAndSignalFramesAreFlagged) {
  CompiledCfi c(0);
  c.add_fde(gcc_cie(), kCieInstructions, bytes({0x07, 0x10}), 0, 0x100, 0x110);  // undefined rip: _start
  // The signal trampoline's CIE ("zRS") with expression rules: libunwind's, flagged.
  c.add_fde(gcc_cie("zRS"), kCieInstructions, bytes({0x0f, 0x03, 0x77, 0xa0, 0x01}), 0, 0x10f, 0x120);
  c.finish();
  EXPECT_NE(c.find(0x100)->flags & CfiRow::kRoot, 0);
  // The later FDE takes over where it starts.
  const CfiRow* sig = c.find(0x10f);
  EXPECT_EQ(sig->rule, CfaRule::kFallback);
  EXPECT_NE(sig->flags & CfiRow::kSignalFrame, 0);
}

TEST(CfiRows, RulesLibunwindWouldRefuseAreLeftToIt) {
  // A rule for xmm0 (column 17), then an unknown opcode: libunwind's answer from there on.
  CompiledCfi c(0);
  c.add_fde(gcc_cie(), kCieInstructions, bytes({0x44, 0x91, 0x02}), 0, 0x100, 0x110);
  c.add_fde(gcc_cie(), kCieInstructions, bytes({0x44, 0x1c}), 0, 0x200, 0x210);
  // Registers saved somewhere else than the stack: register rule for rbx.
  c.add_fde(gcc_cie(), kCieInstructions, bytes({0x42, 0x09, 0x03, 0x00}), 0, 0x300, 0x310);
  c.finish();
  EXPECT_EQ(c.find(0x100)->rule, CfaRule::kRsp);
  EXPECT_EQ(c.find(0x104)->rule, CfaRule::kFallback);
  EXPECT_EQ(c.find(0x204)->rule, CfaRule::kFallback);
  EXPECT_EQ(c.find(0x301)->rule, CfaRule::kRsp);
  EXPECT_EQ(c.find(0x302)->rule, CfaRule::kFallback);
}

}  // namespace
}  // namespace ember::collector
