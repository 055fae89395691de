#pragma once
// Turning one sample into a stack of addresses, leaf first. The kernel part always comes from
// the kernel's callchain; the user part comes from a pluggable UserUnwinder:
//
//   FramePointerUnwinder  the user part of the kernel's frame-pointer callchain (today)
//   a DWARF unwinder      user registers + the copied user stack, unwound with the CFI of the
//                         mapped ELF files (libunwind, remote address space); it plugs in
//                         through make_user_unwinder() and the PerfSampleNeeds it declares.
//
// Unwinders produce addresses only. Process::find_mapping() resolves them to (module, offset)
// for every unwinder alike; a DWARF unwinder uses the same mappings to find each module's
// file (Module::file / path) and the load bias (Mapping::start - page_offset).

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "collector/call_graph.h"
#include "collector/collector_stats.h"
#include "collector/record_decoder.h"
#include "common/error.h"
#include "common/types.h"

namespace ember::collector {

class Process;

// What one sample offers for unwinding.
struct SampleContext {
  int32_t pid = 0;
  int32_t tid = 0;
  const Process* process = nullptr;  // its address space; never null
  uint64_t ip = 0;
  CpuMode mode = CpuMode::kUnknown;
  U64View kernel_callchain;  // the kernel frames of the callchain, markers removed, leaf first
  U64View user_callchain;    // the user frames of the callchain (frame pointers), leaf first
  // PERF_SAMPLE_REGS_USER / PERF_SAMPLE_STACK_USER (empty unless the unwinder asked for them).
  uint64_t regs_abi = 0;
  uint64_t regs_mask = 0;
  U64View regs_user;
  std::span<const std::byte> stack_user;
  uint64_t stack_user_dynamic_size = 0;
};

struct UnwoundFrame {
  common::ProcessAddress address;
  bool kernel = false;
  // The address is where execution was interrupted (the leaf of a context), not a return
  // address: it is not moved back into the call instruction.
  bool interrupted = false;
};

// What an unwinder is given for a decoded sample of `process` (registers read with `format`).
SampleContext user_sample_context(const SampleRecord& sample, const SampleFormat& format, const Process* process);

// What the kernel must attach to each sample for an unwinder.
struct PerfSampleNeeds {
  bool user_callchain = true;  // false: exclude_callchain_user (the unwinder walks the stack itself)
  uint64_t regs_user_mask = 0; // PERF_SAMPLE_REGS_USER registers
  uint32_t stack_user_bytes = 0;  // PERF_SAMPLE_STACK_USER size
};

class UserUnwinder {
 public:
  virtual ~UserUnwinder() = default;
  virtual PerfSampleNeeds needs() const = 0;
  // Appends the sample's user frames, leaf first (the leaf marked interrupted).
  virtual void unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) = 0;
  // Adds the unwinder's own counters (the unwinding fields of CollectorStats).
  virtual void add_stats(CollectorStats& stats) const { (void)stats; }
  // Whether the last unwind_user() reached the outermost frame rather than stopping early (end
  // of the stack copy, no CFI, ...). The Python merge pairs frames from the root only then.
  virtual bool last_reached_root() const { return true; }
};

// The user part of the kernel's frame-pointer walk.
class FramePointerUnwinder final : public UserUnwinder {
 public:
  PerfSampleNeeds needs() const override { return {}; }
  void unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) override;
};

// The user unwinder for a call-graph mode. kDwarf: an error for a stack size the kernel would
// refuse (not a multiple of 8, or above 65528 bytes).
[[nodiscard]] Result<std::unique_ptr<UserUnwinder>> make_user_unwinder(CallGraphMode mode, uint32_t stack_bytes,
                                                                      DwarfEngine engine = DwarfEngine::kCompiled);

// Splits the kernel's callchain at its PERF_CONTEXT_* markers. Guest and hypervisor frames are
// dropped. When the callchain is empty the sampled IP stands alone in its CPU mode's part.
struct SplitCallchain {
  U64View kernel;
  U64View user;
  bool ip_only_kernel = false;  // no callchain: the lone IP is a kernel address
  bool ip_only_user = false;
};
SplitCallchain split_callchain(const SampleRecord& sample);

class Unwinder {
 public:
  explicit Unwinder(std::unique_ptr<UserUnwinder> user)
      : user_(std::move(user)), walks_stack_(!user_->needs().user_callchain) {}

  PerfSampleNeeds needs() const { return user_->needs(); }
  // Fills `out` (cleared first) with the sample's frames, leaf first: kernel, then user.
  void unwind(SampleContext& sample, const SampleRecord& record, std::vector<UnwoundFrame>& out);
  // After unwind(): the user part reached the outermost frame (see UserUnwinder).
  bool last_reached_root() const { return user_->last_reached_root(); }
  CollectorStats stats() const;

 private:
  std::unique_ptr<UserUnwinder> user_;
  bool walks_stack_;  // the user unwinder reads registers and stack, not the user callchain
  CollectorStats stats_;
};

}  // namespace ember::collector
