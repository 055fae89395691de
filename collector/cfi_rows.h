#pragma once
// A binary's call-frame information compiled once into a compact, sorted table of rows: from a
// link-time address on, how to find the caller's registers. The unwinder then takes a frame by
// one binary search and two or three reads from the sample's stack copy, with no lock, no
// system call and no allocation (libunwind interprets CFI per frame behind a signal-masking
// cache lock).
//
// The compact form covers what compilers emit for x86-64 code:
//   CFA = rsp + N or rbp + N; the return address at CFA - 8 (or undefined: the outermost frame);
//   rbx, rbp, r12-r15 each the same, undefined, or saved at CFA + 8k;
//   PLT entries' CFA expression (rsp + N, 8 more past byte K of the 16-byte entry).
// Anything else (other CFA expressions, register-to-register rules, rules for other registers,
// the signal trampoline's expressions, opcodes that libunwind refuses) is a kFallback row:
// libunwind takes that one frame. Addresses no FDE covers are kNoCfi rows.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "collector/cfi_parse.h"

namespace ember::collector {

enum class CfaRule : uint8_t {
  kNoCfi,     // no FDE covers the address
  kRsp,       // CFA = rsp + cfa_offset
  kRbp,       // CFA = rbp + cfa_offset
  kPlt,       // CFA = rsp + cfa_offset, + 8 when (ip & 15) >= plt_threshold()
  kFallback,  // outside the compact form: libunwind unwinds this frame
};

// The callee-saved registers the compact form tracks, in this order in CfiRow::saved.
inline constexpr int kTrackedRegs[6] = {3 /* rbx */, 6 /* rbp */, 12, 13, 14, 15};
inline constexpr int kSavedRbp = 1;  // index of rbp in CfiRow::saved

struct CfiRow {
  static constexpr int8_t kSame = 0;
  static constexpr int8_t kUndefined = INT8_MIN;
  static constexpr uint8_t kSignalFrame = 1;  // the CIE says 'S': the next frame's ip is exact
  static constexpr uint8_t kRoot = 2;         // the return address is undefined: outermost frame

  uint32_t pc = 0;  // link-time address - the table's text start
  int32_t cfa_offset = 0;
  CfaRule rule = CfaRule::kNoCfi;
  uint8_t flags = 0;  // kSignalFrame, kRoot; bits 4-7: the PLT rule's threshold
  // kSame, kUndefined, or k: saved at CFA + 8k.
  int8_t saved[6] = {};

  uint8_t plt_threshold() const { return flags >> 4; }
  bool operator==(const CfiRow&) const = default;
};
static_assert(sizeof(CfiRow) == 16);  // two words: the key of a distinct rule

// Rows sorted by pc, consecutive equal rules merged; each row 8 bytes (its pc and the index of
// its rule among the binary's distinct rules, of which a binary has a few hundred).
class CompiledCfi {
 public:
  // The rule in force at link-time address `link_pc` (nullptr: none, i.e. below the first FDE).
  // Its pc field is not the row's.
  const CfiRow* find(uint64_t link_pc) const;
  uint64_t base() const { return base_; }
  size_t size() const { return rows_.size(); }
  size_t memory_bytes() const {
    return rows_.capacity() * sizeof(Row) + rules_.capacity() * sizeof(CfiRow) + building_.capacity() * sizeof(CfiRow);
  }

  // Building, FDE by FDE in the order of their start addresses (the table's order).
  explicit CompiledCfi(uint64_t base = 0) : base_(base) {}
  // Adds one FDE's rows. An FDE starting inside the previous one cuts it there (what the
  // binary search of .eh_frame_hdr finds: the last FDE starting at or below the pc).
  // `cie_instructions`: the CIE's initial instructions; `instructions` the FDE's, found at
  // link-time address `instructions_address` (for DW_CFA_set_loc).
  void add_fde(const cfi::Cie& cie, std::span<const std::byte> cie_instructions,
               std::span<const std::byte> instructions, uint64_t instructions_address, uint64_t start, uint64_t end);
  void finish();

 private:
  struct Row {
    uint32_t pc;
    uint32_t rule;  // index into rules_
  };
  void push(CfiRow row);
  uint64_t base_ = 0;
  std::vector<CfiRow> building_;  // until finish()
  std::vector<Row> rows_;
  std::vector<CfiRow> rules_;
};

}  // namespace ember::collector
