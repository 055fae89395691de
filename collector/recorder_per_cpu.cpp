// Recorder::Impl and the sample program (python/kernel_reader.h): loading it, attaching it, and
// sampling -p and launched commands per CPU (Sampling::kPerCpu; collector/README.md), where it
// keeps the targets' samples and per-thread dummy events carry their side-band records.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <utility>

#include "collector/recorder_impl.h"
#include "python/kernel_reader.h"

namespace ember::collector {

Result<void> Recorder::Impl::load_sample_program(const Target& target) {
  const bool python_in_kernel = options_.python.enabled && options_.python.reads != PythonOptions::Reads::kUser;
  bool per_cpu = !target.system_wide && (options_.sampling == Sampling::kPerCpu ||
                                         (options_.sampling == Sampling::kAuto && options_.off_cpu));
  // Children are found by the program at their first sample when their ancestors' PIDs are the
  // kernel's; in a container, from their fork records (their first moments are not sampled).
  if (per_cpu && options_.sampling == Sampling::kAuto && !python::KernelReader::in_initial_pid_namespace()) {
    spdlog::info("sampling per thread: ember runs in a PID namespace of its own");
    per_cpu = false;
  }
  if (!python_in_kernel && !per_cpu) return {};
  auto program = python::KernelReader::load(per_cpu);
  if (!program && per_cpu) {
    if (options_.sampling == Sampling::kPerCpu) {
      return make_error(program.error().code(), fmt::format("cannot sample per CPU: {}", program.error().message()));
    }
    spdlog::info("sampling per thread: {}", program.error().message());
    per_cpu = false;
    if (python_in_kernel) program = python::KernelReader::load(false);
  }
  if (!program) {
    if (python_in_kernel && options_.python.reads == PythonOptions::Reads::kKernel) {
      return make_error(program.error().code(),
                        fmt::format("cannot read Python stacks in the kernel: {}", program.error().message()));
    }
    // Python frames still come, read from user space after each sample (a wake-up per sample).
    spdlog::debug("Python stacks are read from user space: {}", program.error().message());
    return {};
  }
  sample_program_ = std::move(*program);
  if (python_in_kernel) python_.start_kernel_reads(sample_program_);
  if (!per_cpu) return {};
  if (auto r = sample_program_->filter_targets(true); !r) {
    if (options_.sampling == Sampling::kPerCpu) {
      return make_error(r.error().code(), fmt::format("cannot sample per CPU: {}", r.error().message()));
    }
    spdlog::info("sampling per thread: {}", r.error().message());
    return {};
  }
  per_cpu_ = true;
  return {};
}

Result<void> Recorder::Impl::open_target_cpus() {
  cpu_event_.assign(cpus_.size(), SIZE_MAX);
  cpu_enabled_ns_.assign(cpus_.size(), 0);
  // What the first event may change while it is negotiated, for a fallback to undo.
  const EventSpec spec = spec_;
  const size_t warnings = warnings_.size();
  const std::string note = event_note_;
  for (size_t c = 0; c < cpus_.size(); ++c) {
    auto opened = open_cpu(c);
    if (opened) continue;
    if (c != 0 || options_.sampling != Sampling::kAuto) return opened;
    // Nothing is open yet: the threads get events of their own, as without the program.
    spdlog::info("sampling per thread: {}", opened.error().message());
    per_cpu_ = false;
    (void)sample_program_->filter_targets(false);
    cpu_event_.clear();
    cpu_enabled_ns_.clear();
    spec_ = spec;
    warnings_.resize(warnings);
    event_note_ = note;
    event_name_.clear();
    return {};
  }
  return {};
}

std::expected<size_t, int> Recorder::Impl::open_side_band(pid_t pid, int cpu_index, int32_t tid) {
  EventSpec spec = spec_;
  spec.dummy = true;
  spec.side_band = true;
  spec.wakeup_bytes = wakeup_bytes();
  auto fd = open_event(spec, pid, cpus_[cpu_index]);
  if (!fd && fd.error() == EINVAL && spec.build_id) {
    // Linux before 5.12: build-ids are read from the files instead (the CPU events, which
    // negotiated the rest, carry no side-band records to find this out).
    spec_.build_id = spec.build_id = false;
    fd = open_event(spec, pid, cpus_[cpu_index]);
  }
  if (!fd) return std::unexpected(fd.error());
  events_.push_back(Event{std::move(*fd), cpu_index, tid});
  const size_t index = events_.size() - 1;
  if (options_.off_cpu && !off_cpu_refused_) (void)open_switch_event(pid, cpu_index, tid);
  return index;
}

Result<void> Recorder::Impl::attach_sample_program(int fd, bool switches) {
  if (!sample_program_) return make_error(ErrorCode::kInternal, "no sample program loaded");
  return sample_program_->attach(fd, switches);
}

}  // namespace ember::collector
