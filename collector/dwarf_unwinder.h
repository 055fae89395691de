#pragma once
// The user part of a sample unwound with DWARF call-frame information, from the registers and
// the copy of the user stack that the kernel attached to the sample (PERF_SAMPLE_REGS_USER,
// PERF_SAMPLE_STACK_USER). libunwind does the CFI work through its remote interface; ember's
// accessors decide what it may read:
//
//   access_reg      the sampled registers (perf's x86-64 order mapped to libunwind's)
//   access_mem      the stack copy for [sp, sp + copy); CFI from the per-binary unwind tables
//                   (unwind_tables.h) at their own address space; nothing else: never the live
//                   process, never memory that was not copied
//   find_proc_info  the binary's table (.eh_frame_hdr, or one ember built from .eh_frame or
//                   .debug_frame), searched by libunwind's dwarf_search_unwind_table
//
// With the compiled engine (the default) a frame whose rule the compiled rows hold is stepped
// by a binary search and reads from the stack copy, without libunwind; libunwind takes only the
// frames outside that form (dwarf_libunwind_frames), from the registers found so far.
//
// Where a frame has no CFI (JIT code, a binary without any), libunwind would guess on its own
// (x86-64 unw_step: RBP-chain heuristics and a return address at [RSP]); ember does not take
// the guess. It applies the frame-pointer rule itself, checked against the stack copy, and counts
// each such step (frame_pointer_steps); an unusable frame pointer ends the stack (stopped_no_cfi).
// Code in anonymous memory between two frames of one binary is first tried as a call shim
// (CPython's -X perf trampolines keep no frame pointer: return address at [sp + 8]; shim_steps).
//
// Each unwind ends in exactly one counted way: at a root (CFI marks the return address
// undefined: _start, clone3/start_thread; or, without CFI, rbp = 0, the ABI's outermost-frame
// mark: ld.so's _start), at the end of the stack copy, without CFI, on a read outside everything
// copied, at the depth limit, or on a frame that cannot be right.
//
// Caches: per-binary tables shared by all processes (UnwindTableCache, bounded); one libunwind
// address space per process (bounded, least recently used out) with its global-policy cache of
// register rules, flushed when the process's mappings change.

#include <cstdint>
#include <memory>
#include <vector>

#include "collector/unwind_table_cache.h"
#include "collector/unwinder.h"

namespace ember::collector {

// PERF_SAMPLE_REGS_USER on x86-64: AX BX CX DX SI DI BP SP IP (0-8) and R8-R15 (16-23). The
// flags and segment registers play no part in unwinding.
inline constexpr uint64_t kX86UserRegsMask = 0x1ffull | (0xffull << 16);
// PERF_SAMPLE_STACK_USER: the kernel wants a multiple of 8 below 64 KiB.
inline constexpr uint32_t kMaxStackCopyBytes = 65528;

struct DwarfUnwinderOptions {
  DwarfEngine engine = DwarfEngine::kCompiled;
  uint32_t stack_bytes = 32768;
  size_t max_frames = 256;        // user frames per sample
  size_t max_address_spaces = 64; // processes with libunwind state kept at once
  size_t register_rule_cache = 1024;  // per process: libunwind's cache of register rules by IP
  UnwindTableCache::Limits tables;
};

class DwarfUnwinder final : public UserUnwinder {
 public:
  // An error when the options cannot be used (stack size) or libunwind fails to start.
  [[nodiscard]] static Result<std::unique_ptr<DwarfUnwinder>> create(const DwarfUnwinderOptions& options);
  ~DwarfUnwinder() override;

  PerfSampleNeeds needs() const override;
  void unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) override;
  void add_stats(CollectorStats& stats) const override;
  bool last_reached_root() const override;

  const UnwindTableCache& tables() const;
  UnwindTableCache& tables();  // tests put prepared tables in

  class Impl;

 private:
  explicit DwarfUnwinder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::collector
