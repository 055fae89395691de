#include "collector/unwinder.h"

#include <fmt/format.h>

#include "collector/dwarf_unwinder.h"

namespace ember::collector {

SplitCallchain split_callchain(const SampleRecord& sample) {
  SplitCallchain out;
  const U64View& chain = sample.callchain;
  enum class Context { kNone, kKernel, kUser, kOther } context = Context::kNone;
  size_t run_start = 0;
  auto close_run = [&](size_t end) {
    // The first run of each context is the stack; a later one (never seen in practice) is ignored.
    if (end <= run_start) return;
    U64View run = chain.slice(run_start, end - run_start);
    if (context == Context::kKernel && out.kernel.empty()) out.kernel = run;
    if (context == Context::kUser && out.user.empty()) out.user = run;
  };
  for (size_t i = 0; i < chain.size(); ++i) {
    uint64_t v = chain[i];
    if (v < kContextMax) continue;
    close_run(i);
    run_start = i + 1;
    if (v == kContextKernel) {
      context = Context::kKernel;
    } else if (v == kContextUser) {
      context = Context::kUser;
    } else {
      context = Context::kOther;  // guest or hypervisor frames: not ours to resolve
    }
  }
  close_run(chain.size());
  if (out.kernel.empty() && out.user.empty()) {
    out.ip_only_kernel = sample.mode == CpuMode::kKernel;
    out.ip_only_user = sample.mode == CpuMode::kUser;
  }
  return out;
}

void FramePointerUnwinder::unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) {
  const U64View& chain = sample.user_callchain;
  for (size_t i = 0; i < chain.size(); ++i) {
    uint64_t address = chain[i];
    // A frame-pointer walk ends on a zero (or tiny) return address when the outermost frame
    // has no caller; nothing can be mapped there.
    if (address < 4096) break;
    out.push_back(UnwoundFrame{common::ProcessAddress(address), false, i == 0});
  }
}

SampleContext user_sample_context(const SampleRecord& s, const SampleFormat& format, const Process* process) {
  SampleContext ctx;
  ctx.pid = s.sid.pid;
  ctx.tid = s.sid.tid;
  ctx.process = process;
  ctx.ip = s.ip;
  ctx.mode = s.mode;
  ctx.regs_abi = s.regs_abi;
  ctx.regs_mask = format.regs_user_mask;
  ctx.regs_user = s.regs_user;
  ctx.stack_user = s.stack_user;
  ctx.stack_user_dynamic_size = s.stack_user_dynamic_size;
  return ctx;
}

Result<std::unique_ptr<UserUnwinder>> make_user_unwinder(CallGraphMode mode, uint32_t stack_bytes, DwarfEngine engine) {
  switch (mode) {
    case CallGraphMode::kFramePointer: return std::make_unique<FramePointerUnwinder>();
    case CallGraphMode::kDwarf: {
      DwarfUnwinderOptions options;
      options.stack_bytes = stack_bytes;
      options.engine = engine;
      auto dwarf = DwarfUnwinder::create(options);
      if (!dwarf) return std::unexpected(dwarf.error());
      return std::unique_ptr<UserUnwinder>(std::move(*dwarf));
    }
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown call-graph mode");
}

void Unwinder::unwind(SampleContext& sample, const SampleRecord& record,
                      std::vector<UnwoundFrame>& out) {
  out.clear();
  SplitCallchain split = split_callchain(record);
  sample.kernel_callchain = split.kernel;
  sample.user_callchain = split.user;
  for (size_t i = 0; i < split.kernel.size(); ++i) {
    out.push_back(UnwoundFrame{common::ProcessAddress(split.kernel[i]), true, i == 0});
  }
  if (split.ip_only_kernel) out.push_back(UnwoundFrame{common::ProcessAddress(record.ip), true, true});
  stats_.kernel_frames += out.size();
  size_t before_user = out.size();
  // An unwinder that walks the stack itself gets every sample: with exclude_callchain_user the
  // callchain of a user-mode sample is empty, and its registers are what matters.
  if (split.ip_only_user && !walks_stack_) {
    out.push_back(UnwoundFrame{common::ProcessAddress(record.ip), false, true});
  } else {
    user_->unwind_user(sample, out);
  }
  stats_.user_frames += out.size() - before_user;
  if (out.size() == before_user && record.mode == CpuMode::kUser) stats_.empty_user_stacks++;
}

CollectorStats Unwinder::stats() const {
  CollectorStats s = stats_;
  user_->add_stats(s);
  return s;
}

}  // namespace ember::collector
