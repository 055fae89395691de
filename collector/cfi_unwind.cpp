// DwarfUnwinder's compiled engine: frames stepped by the compiled CFI rows of each binary
// (cfi_rows.h) with reads from the sample's stack copy; libunwind only for the frames outside
// the rows' form. Also the steps both engines share for code without CFI.

#include <algorithm>

#include "collector/dwarf_unwinder_impl.h"

namespace ember::collector {

namespace {

// Bounds the compiled engine's module -> table memo (modules come and go with processes).
constexpr size_t kMaxModuleTables = 4096;

bool is_anonymous(const Mapping* mapping) {
  return mapping != nullptr && mapping->module &&
         (mapping->module->kind == profile::MappingKind::kJit ||
          mapping->module->kind == profile::MappingKind::kAnonymous);
}

}  // namespace

void DwarfUnwinder::Impl::count_stop(const SampleState& st, bool without_cfi) {
  if (st.fault == Fault::kStackEnd) {
    stats_.dwarf_stack_end++;
  } else if (without_cfi) {
    stats_.dwarf_no_cfi++;  // no CFI and no usable frame pointer
  } else if (st.fault == Fault::kBadMemory) {
    stats_.dwarf_bad_memory++;
  } else {
    stats_.dwarf_bad_frame++;
  }
}

bool DwarfUnwinder::Impl::frame_pointer_step(SampleState& st, uint64_t sp, uint64_t rbp) {
  // The frame-pointer rule: [rbp] is the caller's rbp, [rbp + 8] the return address, the
  // caller's sp is rbp + 16. Only believed when rbp points into this frame's part of the copy.
  if (rbp < sp || (rbp & 7) != 0) return false;
  uint64_t saved_rbp, return_address;
  if (!st.stack_read(rbp, saved_rbp) || !st.stack_read(rbp + 8, return_address)) {
    st.note_fault(rbp + 8);
    return false;
  }
  if (return_address < kMinCodeAddress ||
      st.process->find_mapping(common::ProcessAddress(return_address)) == nullptr) {
    return false;
  }
  st.regs_valid = (1u << kRegRip) | (1u << kRegRsp) | (1u << kRegRbp);
  st.regs[kRegRip] = return_address;
  st.regs[kRegRsp] = rbp + 16;
  st.regs[kRegRbp] = saved_rbp;
  return true;
}

bool DwarfUnwinder::Impl::shim_step(SampleState& st, const SampleState& saved, uint64_t sp, const Mapping* callee) {
  // A call shim in anonymous memory between two functions of one binary, such as CPython's
  // -X perf trampolines (3.12+, x86-64: "sub $8,%rsp; call *%rcx; add $8,%rsp; ret", copied into
  // an anonymous arena, no CFI, rbp untouched): at its return address the caller's return
  // address is at [sp + 8] and the caller's sp is sp + 16; every other register is the caller's.
  // Believed only when that return address lies in the binary the shim called into (libpython
  // calls its trampoline, which calls back into libpython).
  if (callee == nullptr || !callee->module || callee->module->kind != profile::MappingKind::kFile) return false;
  uint64_t return_address;
  if (!st.stack_read(sp + 8, return_address)) {
    st.note_fault(sp + 8);
    return false;
  }
  const Mapping* caller = st.process->find_mapping(common::ProcessAddress(return_address));
  if (caller == nullptr || caller->module != callee->module) return false;
  constexpr uint32_t kCalleeSaved = (1u << 3) | (1u << kRegRbp) | (0xfu << 12);  // rbx rbp r12-r15
  const uint32_t kept = saved.regs_valid & kCalleeSaved;
  st.regs_valid = kept | (1u << kRegRip) | (1u << kRegRsp);
  for (int reg = 0; reg < kRegCount; ++reg) {
    if ((kept & (1u << reg)) != 0) st.regs[reg] = saved.regs[reg];
  }
  st.regs[kRegRip] = return_address;
  st.regs[kRegRsp] = sp + 16;
  return true;
}

const CfiRow* DwarfUnwinder::Impl::row_for(const Mapping& mapping, uint64_t ip) {
  const profile::Module* module = mapping.module.get();
  if (module == nullptr ||
      (module->kind != profile::MappingKind::kFile && module->kind != profile::MappingKind::kVdso)) {
    return nullptr;  // JIT code, anonymous memory
  }
  auto it = module_tables_.find(module);
  if (it == module_tables_.end() || it->second.owner.expired()) {
    if (module_tables_.size() >= kMaxModuleTables) module_tables_.clear();
    // The first frame in a binary loads its table (once per binary: shared by every process).
    const UnwindTable* table = tables_.find(*module).table;
    it = module_tables_.insert_or_assign(module, ModuleTable{mapping.module, table}).first;
  }
  const UnwindTable* t = it->second.table;
  if (t == nullptr) return nullptr;
  auto link = t->link_address(ip - mapping.start + mapping.page_offset);
  if (!link || *link < t->text_start() || *link >= t->text_end()) return nullptr;
  const CfiRow* row = t->compiled().find(*link);
  return row == nullptr || row->rule == CfaRule::kNoCfi ? nullptr : row;
}

void DwarfUnwinder::Impl::unwind_compiled(SampleState& st, std::vector<UnwoundFrame>& out) {
  FrameWalk walk;
  bool exact_ip = true;  // the leaf, and the frame a signal interrupted, are not return addresses
  // Where a saved register could not be read (0: nowhere to read, e.g. after a frame-pointer
  // step): a later rule that needs it reports that address as libunwind would.
  uint64_t unreadable_at[kRegCount] = {};
  const Mapping* callee = nullptr;  // the mapping of the frame below (towards the leaf)
  while (true) {
    const uint64_t ip = st.regs[kRegRip];
    const uint64_t sp = st.regs[kRegRsp];
    const Mapping* mapping = st.process->find_mapping(common::ProcessAddress(ip));
    if (!take_frame(walk, ip, sp, mapping, out)) break;
    st.no_cfi = false;
    st.fault = Fault::kNone;
    const uint64_t lookup = exact_ip ? ip : ip - 1;
    const Mapping* lookup_mapping = mapping != nullptr && mapping->contains(common::ProcessAddress(lookup))
                                        ? mapping
                                        : st.process->find_mapping(common::ProcessAddress(lookup));
    const CfiRow* row = lookup_mapping == nullptr ? nullptr : row_for(*lookup_mapping, lookup);

    if (row == nullptr) {
      // No CFI: the frame-pointer rule, checked, or a call shim (the same as libunwind's engine).
      const bool have_rbp = st.valid(kRegRbp);
      const uint64_t rbp = st.regs[kRegRbp];
      if (have_rbp && rbp == 0) {
        stats_.dwarf_to_root++;  // the x86-64 ABI's outermost-frame mark
        last_to_root_ = true;
        break;
      }
      const bool frame_set_up = have_rbp && rbp == sp;
      const SampleState saved = st;
      if (is_anonymous(mapping) && !frame_set_up && shim_step(st, saved, sp, callee)) {
        stats_.dwarf_shim_steps++;
      } else if (have_rbp && frame_pointer_step(st, sp, rbp)) {
        stats_.dwarf_frame_pointer_steps++;
      } else {
        count_stop(st, true);
        break;
      }
      std::fill(std::begin(unreadable_at), std::end(unreadable_at), 0);
      callee = mapping;
      exact_ip = false;
      continue;
    }

    if (row->rule == CfaRule::kFallback) {
      stats_.dwarf_libunwind_frames++;
      const int step = libunwind_step(st, exact_ip);
      if (step > 0) {
        std::fill(std::begin(unreadable_at), std::end(unreadable_at), 0);
        exact_ip = (row->flags & CfiRow::kSignalFrame) != 0;
        callee = mapping;
        continue;
      }
      count_libunwind_end(st, step);
      break;
    }

    stats_.dwarf_compiled_frames++;
    if ((row->flags & CfiRow::kRoot) != 0) {
      stats_.dwarf_to_root++;  // the return address is undefined: _start, clone3, start_thread
      last_to_root_ = true;
      break;
    }
    uint64_t cfa;
    if (row->rule == CfaRule::kRbp) {
      if (!st.valid(kRegRbp)) {
        if (unreadable_at[kRegRbp] != 0) st.note_fault(unreadable_at[kRegRbp]);
        count_stop(st, false);
        break;
      }
      cfa = st.regs[kRegRbp] + static_cast<int64_t>(row->cfa_offset);
    } else {
      cfa = sp + static_cast<int64_t>(row->cfa_offset);
      if (row->rule == CfaRule::kPlt && (ip & 15) >= row->plt_threshold()) cfa += 8;
    }
    uint64_t return_address;
    if (!st.stack_read(cfa - 8, return_address)) {
      st.note_fault(cfa - 8);
      count_stop(st, false);
      break;
    }
    if (return_address == ip && cfa == sp) {
      stats_.dwarf_bad_frame++;  // nothing changed: a loop
      break;
    }
    for (int i = 0; i < 6; ++i) {
      const int8_t rule = row->saved[i];
      if (rule == CfiRow::kSame) continue;
      const int reg = kTrackedRegs[i];
      const uint32_t bit = 1u << reg;
      if (rule == CfiRow::kUndefined) {
        st.regs_valid &= ~bit;
        unreadable_at[reg] = 0;
        continue;
      }
      const uint64_t at = cfa + static_cast<int64_t>(rule) * 8;
      if (st.stack_read(at, st.regs[reg])) {
        st.regs_valid |= bit;
      } else {
        st.regs_valid &= ~bit;
        unreadable_at[reg] = at;
      }
    }
    st.regs[kRegRip] = return_address;
    st.regs[kRegRsp] = cfa;
    st.regs_valid |= (1u << kRegRip) | (1u << kRegRsp);
    if (row->saved[kSavedRbp] == CfiRow::kUndefined) {
      stats_.dwarf_to_root++;  // rbp undefined: the ABI's other outermost-frame mark
      last_to_root_ = true;
      break;
    }
    exact_ip = (row->flags & CfiRow::kSignalFrame) != 0;
    callee = mapping;
  }
}

}  // namespace ember::collector
