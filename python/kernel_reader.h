#pragma once
// The program on ember's sampling events (bpf/python_stack.bpf.c): it keeps only the targets'
// samples when chosen processes are sampled with per-CPU events, and it reads Python stacks.
//
// Python stacks: attached to the CPU sampling events, it copies the sampled thread's frame chain in the interrupt that takes the sample, so
// the Python stack is the one the sample caught and ember is not woken per sample to read it.
//
//   load()           once per recording, before the events are opened; an error says why the
//                    kernel cannot run it (the caller reads stacks from user space instead)
//   attach(fd)       every sampling event: CPU samples, and switch-outs (--off-cpu) within a
//                    budget per CPU
//   add_process      a CPython process's layout (ProcessReader::kernel_layout), once attached
//   add_thread       a thread state user space found for a TID (checked in the kernel at use)
//   drain(each)      the stacks read since the last drain, oldest first
//   filter_targets   drop the CPU samples of every process but the targets (add_target), and
//                    with follow_children those of their descendants too
//
// The records are raw: ProcessReader::name_kernel_stack names them with the same checks and
// caches as its own reads. A record whose status is not EMBER_PY_OK (a thread not registered
// yet, a page not resident, a chain too deep) leaves the stack to the user-space reader.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/error.h"
#include "python/bpf/python_stack_abi.h"

struct bpf_object;
struct ring_buffer;

namespace ember::python {

class KernelReader {
 public:
  // Errors: kPermissionDenied (no CAP_BPF/CAP_PERFMON) or kUnsupported (a kernel without BPF
  // ring buffers, perf_event programs or a verifier that accepts the program), with the reason.
  // `with_target_filter`: the object with the filter of per-CPU sampling (filter_targets), which
  // needs the kernel's BTF (/sys/kernel/btf/vmlinux) besides.
  [[nodiscard]] static Result<std::unique_ptr<KernelReader>> load(bool with_target_filter = false);
  ~KernelReader();
  KernelReader(const KernelReader&) = delete;
  KernelReader& operator=(const KernelReader&) = delete;

  // `switches`: a switch event (--off-cpu), read within EMBER_PY_SWITCH_READS_PER_CPU_SECOND.
  [[nodiscard]] Result<void> attach(int perf_event_fd, bool switches);
  void add_process(int32_t pid, const ember_py_process& layout);
  void remove_process(int32_t pid);
  void add_thread(int32_t tid, uint64_t tstate);
  void remove_thread(int32_t tid);

  // Loaded with_target_filter: from now on (on) CPU samples of processes that are not targets
  // are dropped in the kernel; a process started since then that descends from a target
  // becomes one at its first sample when ember runs in the initial PID namespace (elsewhere
  // ember adds them from their fork records). Targets that exit need not be removed: their PID
  // reused by another process is no target (ember_target.start).
  [[nodiscard]] Result<void> filter_targets(bool on);
  enum class Target {
    kChosen,     // -p
    kAfterExec,  // a process ember forked, a target once it exec'd (its samples before are ember's)
    kChild,      // a target's child, from its fork record (kept if the program added it already)
  };
  void add_target(int32_t pid, Target kind);
  // Whether this process sees PIDs as the kernel's tasks carry them.
  static bool in_initial_pid_namespace();

  using Each = void (*)(void* context, const ember_py_stack& stack);
  // Calls each(context, stack) for every well-formed record; returns how many were read.
  size_t drain(Each each, void* context);
  uint64_t malformed() const { return malformed_; }

 private:
  KernelReader() = default;
  static int on_record(void* self, void* data, size_t size);

  bpf_object* object_ = nullptr;
  ring_buffer* ring_ = nullptr;
  int program_fd_ = -1;  // CPU samples: ember_target_stack when loaded with the filter
  int switch_program_fd_ = -1;
  int processes_fd_ = -1;
  int threads_fd_ = -1;
  int targets_fd_ = -1;
  int config_fd_ = -1;
  ember_py_config config_{};
  Each each_ = nullptr;
  void* context_ = nullptr;
  size_t drained_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace ember::python
