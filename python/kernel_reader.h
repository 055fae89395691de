#pragma once
// The kernel-side Python stack reader (bpf/python_stack.bpf.c). Attached to the CPU sampling
// events, it copies the sampled thread's frame chain in the interrupt that takes the sample, so
// the Python stack is the one the sample caught and ember is not woken per sample to read it.
//
//   load()           once per recording, before the events are opened; an error says why the
//                    kernel cannot run it (the caller reads stacks from user space instead)
//   attach(fd)       every sampling event: CPU samples, and switch-outs (--off-cpu) within a
//                    budget per CPU
//   add_process      a CPython process's layout (ProcessReader::kernel_layout), once attached
//   add_thread       a thread state user space found for a TID (checked in the kernel at use)
//   drain(each)      the stacks read since the last drain, oldest first
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
  [[nodiscard]] static Result<std::unique_ptr<KernelReader>> load();
  ~KernelReader();
  KernelReader(const KernelReader&) = delete;
  KernelReader& operator=(const KernelReader&) = delete;

  // `switches`: a switch event (--off-cpu), read within EMBER_PY_SWITCH_READS_PER_CPU_SECOND.
  [[nodiscard]] Result<void> attach(int perf_event_fd, bool switches);
  void add_process(int32_t pid, const ember_py_process& layout);
  void remove_process(int32_t pid);
  void add_thread(int32_t tid, uint64_t tstate);
  void remove_thread(int32_t tid);

  using Each = void (*)(void* context, const ember_py_stack& stack);
  // Calls each(context, stack) for every well-formed record; returns how many were read.
  size_t drain(Each each, void* context);
  uint64_t malformed() const { return malformed_; }

 private:
  KernelReader() = default;
  static int on_record(void* self, void* data, size_t size);

  bpf_object* object_ = nullptr;
  ring_buffer* ring_ = nullptr;
  int program_fd_ = -1;
  int switch_program_fd_ = -1;
  int processes_fd_ = -1;
  int threads_fd_ = -1;
  Each each_ = nullptr;
  void* context_ = nullptr;
  size_t drained_ = 0;
  uint64_t malformed_ = 0;
};

}  // namespace ember::python
