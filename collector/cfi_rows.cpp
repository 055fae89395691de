#include "collector/cfi_rows.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>

#include "common/byte_reader.h"

namespace ember::collector {

namespace {

// DWARF register columns of x86-64: 0-15 the general registers, 16 the return address. CFI
// naming any other column is refused by libunwind (it keeps 17), so it is refused here too.
constexpr int kColumns = 17;
constexpr int kRsp = 7, kRbp = 6, kReturnAddress = 16;

struct Rule {
  enum Where : uint8_t { kSame, kUndefined, kOffset, kOther } where = kSame;
  int64_t offset = 0;
  bool operator==(const Rule&) const = default;
};

struct State {
  std::array<Rule, kColumns> regs{};
  enum CfaWhere : uint8_t { kReg, kExpression } cfa_where = kReg;
  uint64_t cfa_reg = kRsp;
  int64_t cfa_offset = 8;
  std::span<const std::byte> cfa_expression;
};

// The CFA expression of PLT entries (binutils): rsp + N, + 8 once past byte K of the 16-byte
// entry, i.e. DW_OP_breg7 N; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litK; DW_OP_ge;
// DW_OP_lit3; DW_OP_shl; DW_OP_plus.
bool plt_expression(std::span<const std::byte> expr, int64_t& offset, uint8_t& threshold) {
  common::ByteReader r(expr);
  if (r.u8() != 0x77) return false;
  offset = r.sleb();
  if (r.u8() != 0x80 || r.sleb() != 0 || r.u8() != 0x3f || r.u8() != 0x1a) return false;
  const uint8_t lit = r.u8();
  if (lit < 0x30 || lit > 0x3f) return false;
  threshold = static_cast<uint8_t>(lit - 0x30);
  return r.u8() == 0x2a && r.u8() == 0x33 && r.u8() == 0x24 && r.u8() == 0x22 && r.ok() && r.at_end();
}

// The row a state makes, or a kFallback row when it is outside the compact form.
CfiRow row_of(const State& s, bool signal_frame, bool broken) {
  CfiRow row;
  row.rule = CfaRule::kFallback;
  if (signal_frame) row.flags |= CfiRow::kSignalFrame;
  if (broken) return row;
  const Rule& ra = s.regs[kReturnAddress];
  if (ra.where == Rule::kUndefined) {
    row.flags |= CfiRow::kRoot;
  } else if (ra.where != Rule::kOffset || ra.offset != -8) {
    return row;
  }
  for (int reg = 0; reg < kReturnAddress; ++reg) {
    const Rule& rule = s.regs[reg];
    const auto* tracked = std::find(std::begin(kTrackedRegs), std::end(kTrackedRegs), reg);
    if (tracked == std::end(kTrackedRegs)) {
      if (rule.where != Rule::kSame) return row;  // rsp, or a register no caller's frame needs
      continue;
    }
    int8_t& out = row.saved[tracked - std::begin(kTrackedRegs)];
    if (rule.where == Rule::kSame) {
      out = CfiRow::kSame;
    } else if (rule.where == Rule::kUndefined) {
      out = CfiRow::kUndefined;
    } else if (rule.where == Rule::kOffset && rule.offset % 8 == 0 && rule.offset != 0 &&
               rule.offset / 8 >= -127 && rule.offset / 8 <= 127) {
      out = static_cast<int8_t>(rule.offset / 8);
    } else {
      return row;
    }
  }
  int64_t offset = s.cfa_offset;
  CfaRule rule = CfaRule::kFallback;
  if (s.cfa_where == State::kReg) {
    if (s.cfa_reg == kRsp) rule = CfaRule::kRsp;
    if (s.cfa_reg == kRbp) rule = CfaRule::kRbp;
  } else {
    uint8_t threshold = 0;
    if (plt_expression(s.cfa_expression, offset, threshold)) {
      rule = CfaRule::kPlt;
      row.flags |= static_cast<uint8_t>(threshold << 4);
    }
  }
  if (rule == CfaRule::kFallback || offset < INT32_MIN || offset > INT32_MAX) return row;
  row.rule = rule;
  row.cfa_offset = static_cast<int32_t>(offset);
  return row;
}

// Runs CFI instructions the way libunwind's run_cfi_program does, calling `at(loc, state)` for
// every location where a new row starts. False when an instruction cannot be read or libunwind
// would refuse it: the rest of the FDE is then outside the compact form.
template <class AtLocation>
bool run(std::span<const std::byte> program, uint64_t program_address, const cfi::Cie& cie, const State& initial,
         State& s, uint64_t& loc, std::vector<State>& stack, AtLocation&& at) {
  common::ByteReader r(program);
  auto column = [&](uint64_t reg) { return reg < kColumns; };
  auto advance = [&](uint64_t delta) {
    loc += delta * cie.code_align;
    at(loc, s);
  };
  while (!r.at_end()) {
    uint8_t op = r.u8();
    const uint8_t operand = op & 0x3f;
    if ((op & 0xc0) != 0) op &= 0xc0;
    switch (op) {
      case 0x40: advance(operand); break;  // DW_CFA_advance_loc
      case 0x80: {                          // DW_CFA_offset
        const uint64_t v = r.uleb();
        if (!column(operand)) return false;
        s.regs[operand] = Rule{Rule::kOffset, static_cast<int64_t>(v) * cie.data_align};
        break;
      }
      case 0xc0:  // DW_CFA_restore
        if (!column(operand)) return false;
        s.regs[operand] = initial.regs[operand];
        break;
      case 0x00: break;  // DW_CFA_nop
      case 0x01: {       // DW_CFA_set_loc
        uint64_t to = 0;
        if (!cfi::read_pointer(r, cie.fde_encoding, program_address + r.pos(), std::nullopt, to)) return false;
        loc = to;
        at(loc, s);
        break;
      }
      case 0x02: advance(r.u8()); break;
      case 0x03: advance(r.u16()); break;
      case 0x04: advance(r.u32()); break;
      case 0x05:    // DW_CFA_offset_extended
      case 0x11:    // DW_CFA_offset_extended_sf
      case 0x2f: {  // DW_CFA_GNU_negative_offset_extended
        const uint64_t reg = r.uleb();
        int64_t v = op == 0x11 ? r.sleb() : static_cast<int64_t>(r.uleb());
        if (op == 0x2f) v = -v;
        if (!column(reg)) return false;
        s.regs[reg] = Rule{Rule::kOffset, v * cie.data_align};
        break;
      }
      case 0x06:    // DW_CFA_restore_extended
      case 0x07:    // DW_CFA_undefined
      case 0x08: {  // DW_CFA_same_value
        const uint64_t reg = r.uleb();
        if (!column(reg)) return false;
        s.regs[reg] = op == 0x06 ? initial.regs[reg] : Rule{op == 0x07 ? Rule::kUndefined : Rule::kSame, 0};
        break;
      }
      case 0x09: {  // DW_CFA_register
        const uint64_t reg = r.uleb();
        (void)r.uleb();
        if (!column(reg)) return false;
        s.regs[reg] = Rule{Rule::kOther, 0};
        break;
      }
      case 0x0a: stack.push_back(s); break;  // DW_CFA_remember_state
      case 0x0b: {                           // DW_CFA_restore_state (the CFA is restored too)
        if (stack.empty()) return false;
        s = stack.back();
        stack.pop_back();
        break;
      }
      case 0x0c:    // DW_CFA_def_cfa
      case 0x12: {  // DW_CFA_def_cfa_sf
        const uint64_t reg = r.uleb();
        const int64_t off = op == 0x0c ? static_cast<int64_t>(r.uleb()) : r.sleb() * cie.data_align;
        if (!column(reg)) return false;
        s.cfa_where = State::kReg;
        s.cfa_reg = reg;
        s.cfa_offset = off;
        break;
      }
      case 0x0d: {  // DW_CFA_def_cfa_register
        const uint64_t reg = r.uleb();
        if (!column(reg)) return false;
        s.cfa_where = State::kReg;  // libunwind: the register, with the offset kept
        s.cfa_reg = reg;
        break;
      }
      case 0x0e: s.cfa_offset = static_cast<int64_t>(r.uleb()); break;  // DW_CFA_def_cfa_offset
      case 0x13: s.cfa_offset = r.sleb() * cie.data_align; break;       // DW_CFA_def_cfa_offset_sf
      case 0x0f: {                                                      // DW_CFA_def_cfa_expression
        const uint64_t len = r.uleb();
        if (!r.has(len)) return false;
        s.cfa_where = State::kExpression;
        s.cfa_expression = program.subspan(r.pos(), static_cast<size_t>(len));
        r.skip(len);
        break;
      }
      case 0x10:    // DW_CFA_expression
      case 0x16:    // DW_CFA_val_expression
      case 0x14:    // DW_CFA_val_offset
      case 0x15: {  // DW_CFA_val_offset_sf
        const uint64_t reg = r.uleb();
        if (op == 0x10 || op == 0x16) {
          r.skip(r.uleb());
        } else if (op == 0x14) {
          (void)r.uleb();
        } else {
          (void)r.sleb();
        }
        if (!column(reg)) return false;
        s.regs[reg] = Rule{Rule::kOther, 0};
        break;
      }
      case 0x2e: (void)r.uleb(); break;  // DW_CFA_GNU_args_size
      default: return false;             // libunwind refuses the rest (DW_CFA_lo_user, ...)
    }
    if (!r.ok()) return false;
  }
  return true;
}

}  // namespace

void CompiledCfi::push(CfiRow row) {
  if (!building_.empty() && building_.back().pc == row.pc) {
    building_.back() = row;
  } else {
    building_.push_back(row);
  }
}

void CompiledCfi::add_fde(const cfi::Cie& cie, std::span<const std::byte> cie_instructions,
                          std::span<const std::byte> instructions, uint64_t instructions_address, uint64_t start,
                          uint64_t end) {
  if (start < base_ || end <= start || end - base_ > UINT32_MAX) return;
  // A later FDE starting inside an earlier one takes over from its start.
  while (!building_.empty() && building_.back().pc >= start - base_) building_.pop_back();
  const bool signal_frame = cie.augmentation.find('S') != std::string::npos;
  State initial;
  std::vector<State> stack;
  uint64_t loc = 0;
  // The CIE's instructions set the initial state (locations there mean nothing).
  const bool cie_ok = run(cie_instructions, 0, cie, initial, initial, loc, stack, [](uint64_t, const State&) {});
  State s = initial;
  stack.clear();
  loc = start;
  uint64_t row_at = start;  // where the state being built takes effect
  bool ok = cie_ok;
  if (ok) {
    ok = run(instructions, instructions_address, cie, initial, s, loc, stack, [&](uint64_t at, const State& state) {
      // The state so far holds from row_at up to this location.
      if (at > row_at && row_at < end) {
        CfiRow row = row_of(state, signal_frame, false);
        row.pc = static_cast<uint32_t>(row_at - base_);
        push(row);
      }
      if (at > row_at) row_at = at;
    });
  }
  // What the state is at the last location, up to the end (or everything from a point where
  // the program could not be read: libunwind's own answer there).
  if (row_at < end) {
    CfiRow row = row_of(s, signal_frame, !ok);
    row.pc = static_cast<uint32_t>(row_at - base_);
    push(row);
  }
  CfiRow gap;
  gap.pc = static_cast<uint32_t>(end - base_);
  push(gap);
}

void CompiledCfi::finish() {
  // Consecutive rows with the same rule are one; each distinct rule is kept once.
  auto key = [](CfiRow r) {
    r.pc = 0;
    uint64_t words[2];
    std::memcpy(words, &r, sizeof words);
    return std::pair(words[0], words[1]);
  };
  std::map<std::pair<uint64_t, uint64_t>, uint32_t> index;
  rows_.clear();
  rules_.clear();
  for (const CfiRow& r : building_) {
    auto [it, added] = index.emplace(key(r), static_cast<uint32_t>(rules_.size()));
    if (added) {
      CfiRow rule = r;
      rule.pc = 0;
      rules_.push_back(rule);
    }
    if (!rows_.empty() && rows_.back().rule == it->second) continue;
    rows_.push_back(Row{r.pc, it->second});
  }
  building_ = {};
  rows_.shrink_to_fit();
  rules_.shrink_to_fit();
}

const CfiRow* CompiledCfi::find(uint64_t link_pc) const {
  if (link_pc < base_ || link_pc - base_ > UINT32_MAX) return nullptr;
  const auto pc = static_cast<uint32_t>(link_pc - base_);
  auto it = std::upper_bound(rows_.begin(), rows_.end(), pc, [](uint32_t p, const Row& r) { return p < r.pc; });
  if (it == rows_.begin()) return nullptr;
  return &rules_[std::prev(it)->rule];
}

}  // namespace ember::collector
