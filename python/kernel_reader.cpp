#include "python/kernel_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/perf_event.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace ember::python {

extern const unsigned char kPythonStackBpf[];
extern const std::size_t kPythonStackBpfSize;
extern const unsigned char kTargetStackBpf[];
extern const std::size_t kTargetStackBpfSize;

static_assert(offsetof(ember_py_stack, frame) == EMBER_PY_STACK_HEADER_BYTES);
static_assert(sizeof(ember_py_frame) == 88);

namespace {

// libbpf's own messages (the verifier's log among them) go to the debug log, not stderr.
int libbpf_message(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !spdlog::should_log(spdlog::level::debug)) return 0;
  char line[1024];
  int n = std::vsnprintf(line, sizeof line, format, args);
  if (n > 0) {
    std::string_view text(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    spdlog::debug("libbpf: {}", text);
  }
  return 0;
}

Error load_error(std::string_view what, int err) {
  const ErrorCode code = err == EPERM || err == EACCES ? ErrorCode::kPermissionDenied : ErrorCode::kUnsupported;
  std::string why = err == EPERM || err == EACCES ? "needs CAP_BPF and CAP_PERFMON (or root)" : std::strerror(err);
  return Error(code, fmt::format("{}: {}", what, why), err);
}

}  // namespace

Result<std::unique_ptr<KernelReader>> KernelReader::load(bool with_target_filter) {
  static const bool quiet = (libbpf_set_print(libbpf_message), true);
  (void)quiet;
  std::unique_ptr<KernelReader> r(new KernelReader());
  if (with_target_filter && ::access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return make_error(ErrorCode::kUnsupported,
                      "the kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF), which the "
                      "sample filter needs");
  }
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = with_target_filter ? "ember_targets" : "ember_python");
  r->object_ = with_target_filter ? bpf_object__open_mem(kTargetStackBpf, kTargetStackBpfSize, &opts)
                                  : bpf_object__open_mem(kPythonStackBpf, kPythonStackBpfSize, &opts);
  if (!r->object_) return std::unexpected(load_error("cannot open the BPF program", errno));
  if (with_target_filter) {
    // Per-CPU events get ember_target_stack; the Python reader's own sample program is not loaded.
    if (bpf_program* unused = bpf_object__find_program_by_name(r->object_, "ember_python_stack")) {
      bpf_program__set_autoload(unused, false);
    }
  }
  if (int err = bpf_object__load(r->object_); err) {
    return std::unexpected(load_error("the kernel refused the BPF program", -err));
  }
  bpf_program* program = bpf_object__find_program_by_name(
      r->object_, with_target_filter ? "ember_target_stack" : "ember_python_stack");
  bpf_program* switch_program = bpf_object__find_program_by_name(r->object_, "ember_python_switch");
  bpf_map* processes = bpf_object__find_map_by_name(r->object_, "processes");
  bpf_map* threads = bpf_object__find_map_by_name(r->object_, "threads");
  bpf_map* stacks = bpf_object__find_map_by_name(r->object_, "stacks");
  bpf_map* targets = bpf_object__find_map_by_name(r->object_, "targets");
  bpf_map* config = bpf_object__find_map_by_name(r->object_, "config");
  if (!program || !switch_program || !processes || !threads || !stacks || !config ||
      (with_target_filter && !targets)) {
    return make_error(ErrorCode::kInternal, "the BPF program lacks a part ember needs");
  }
  r->config_fd_ = bpf_map__fd(config);
  // PIDs and TIDs as ember's perf samples carry them: those of ember's PID namespace (in the
  // initial one, the kernel's own, which the program reads without a namespace).
  struct stat ns {};
  if (!in_initial_pid_namespace() && ::stat("/proc/self/ns/pid", &ns) == 0) {
    r->config_.pid_ns_dev = static_cast<uint64_t>(ns.st_dev);
    r->config_.pid_ns_ino = static_cast<uint64_t>(ns.st_ino);
    const uint32_t zero = 0;
    if (int err = bpf_map_update_elem(r->config_fd_, &zero, &r->config_, BPF_ANY); err) {
      return std::unexpected(load_error("cannot configure the BPF program", -err));
    }
  }
  if (targets) r->targets_fd_ = bpf_map__fd(targets);
  r->program_fd_ = bpf_program__fd(program);
  r->switch_program_fd_ = bpf_program__fd(switch_program);
  r->processes_fd_ = bpf_map__fd(processes);
  r->threads_fd_ = bpf_map__fd(threads);
  r->ring_ = ring_buffer__new(bpf_map__fd(stacks), &KernelReader::on_record, r.get(), nullptr);
  if (!r->ring_) return std::unexpected(load_error("cannot map the BPF ring buffer", errno));
  return r;
}

KernelReader::~KernelReader() {
  if (ring_) ring_buffer__free(ring_);
  if (object_) bpf_object__close(object_);
}

Result<void> KernelReader::attach(int perf_event_fd, bool switches) {
  if (::ioctl(perf_event_fd, PERF_EVENT_IOC_SET_BPF, switches ? switch_program_fd_ : program_fd_) != 0) {
    return std::unexpected(load_error("cannot attach the BPF program to a sampling event", errno));
  }
  return {};
}

void KernelReader::add_process(int32_t pid, const ember_py_process& layout) {
  const uint32_t key = static_cast<uint32_t>(pid);
  // A full map (4096 CPython processes at once) leaves the newest to user-space reads.
  (void)bpf_map_update_elem(processes_fd_, &key, &layout, BPF_ANY);
}

void KernelReader::remove_process(int32_t pid) {
  const uint32_t key = static_cast<uint32_t>(pid);
  (void)bpf_map_delete_elem(processes_fd_, &key);
}

void KernelReader::add_thread(int32_t tid, uint64_t tstate) {
  const uint32_t key = static_cast<uint32_t>(tid);
  const ember_py_thread value{tstate};
  (void)bpf_map_update_elem(threads_fd_, &key, &value, BPF_ANY);  // LRU: the oldest go
}

void KernelReader::remove_thread(int32_t tid) {
  const uint32_t key = static_cast<uint32_t>(tid);
  (void)bpf_map_delete_elem(threads_fd_, &key);
}

Result<void> KernelReader::filter_targets(bool on) {
  if (on && targets_fd_ < 0) return make_error(ErrorCode::kInternal, "the BPF program was loaded without its filter");
  config_.filter_targets = on ? 1 : 0;
  config_.follow_children = on && in_initial_pid_namespace() ? 1 : 0;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  config_.start_ns = static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(now.tv_nsec);
  const uint32_t zero = 0;
  if (int err = bpf_map_update_elem(config_fd_, &zero, &config_, BPF_ANY); err) {
    return std::unexpected(load_error("cannot configure the BPF program", -err));
  }
  return {};
}

void KernelReader::add_target(int32_t pid, Target kind) {
  if (targets_fd_ < 0) return;
  const uint32_t key = static_cast<uint32_t>(pid);
  ember_target value{};
  value.kind = kind == Target::kAfterExec ? EMBER_TARGET_AFTER_EXEC
               : kind == Target::kChild   ? EMBER_TARGET_CHILD
                                          : EMBER_TARGET_CHOSEN;
  // A child the program registered already has its start time: keep that entry.
  (void)bpf_map_update_elem(targets_fd_, &key, &value, kind == Target::kChild ? BPF_NOEXIST : BPF_ANY);
}

bool KernelReader::in_initial_pid_namespace() {
  // The initial PID namespace has a fixed inode number (PROC_PID_INIT_INO).
  constexpr ino_t kInitialPidNamespaceInode = 0xEFFFFFFCu;
  struct stat ns {};
  return ::stat("/proc/self/ns/pid", &ns) == 0 && ns.st_ino == kInitialPidNamespaceInode;
}

int KernelReader::on_record(void* self, void* data, size_t size) {
  auto* r = static_cast<KernelReader*>(self);
  const auto* stack = static_cast<const ember_py_stack*>(data);
  if (size < EMBER_PY_STACK_HEADER_BYTES || stack->frames > EMBER_PY_MAX_FRAMES ||
      size < EMBER_PY_STACK_HEADER_BYTES + size_t{stack->frames} * sizeof(ember_py_frame)) {
    r->malformed_++;
    return 0;
  }
  r->drained_++;
  r->each_(r->context_, *stack);
  return 0;
}

size_t KernelReader::drain(Each each, void* context) {
  each_ = each;
  context_ = context;
  drained_ = 0;
  (void)ring_buffer__consume(ring_);
  return drained_;
}

}  // namespace ember::python
