// --off-cpu in the Recorder: opening the context-switch events beside the CPU events, and what
// OffCpuStacks asks of the recorder (unwinding a switch-out, adding off-CPU time to the window).

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "collector/recorder_impl.h"

namespace ember::collector {

namespace {

// User stack copied at each switch-out: perf's default. A switch is far more frequent than a CPU
// sample and the copy is the bulk of its record; a blocked thread's user stack (from the system
// call up to main or the thread start) rarely needs more.
constexpr uint32_t kSwitchStackBytes = 8192;

uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string refusal(int err) {
  if (err == EACCES || err == EPERM) {
    auto paranoid = perf_event_paranoid();
    return fmt::format(
        "off-CPU time not recorded: context-switch events with kernel stacks need CAP_PERFMON (or "
        "root), or kernel.perf_event_paranoid <= 1 (it is {}); recording CPU samples only",
        paranoid ? std::to_string(*paranoid) : std::string("unknown"));
  }
  if (err == EMFILE || err == ENFILE) {
    return fmt::format("off-CPU time not recorded: {} (the context-switch events need one file per "
                       "thread and CPU; raise ulimit -n); recording CPU samples only",
                       std::strerror(err));
  }
  return fmt::format("off-CPU time not recorded: the kernel refused the context-switch event ({}; "
                     "it needs Linux 4.3 or later with software perf events); recording CPU "
                     "samples only",
                     std::strerror(err));
}

}  // namespace

std::expected<size_t, int> Recorder::Impl::open_switch_event(pid_t pid, int cpu_index, int32_t tid) {
  EventSpec spec = spec_;  // negotiated by the CPU event: the same registers and stack copy
  spec.context_switches = true;
  // The CPU events (or, sampling per CPU, a dummy event per thread) bring them, in the CPU's
  // ring: a switch ring that overflows loses switches only.
  spec.side_band = false;
  spec.kernel_frames = true;  // the sample is taken in the kernel: excluding it would drop them all
  spec.needs.stack_user_bytes = std::min(spec.needs.stack_user_bytes, kSwitchStackBytes);
  spec.wakeup_bytes = wakeup_bytes();
  auto fail = [&](std::string why, int err) {
    off_cpu_refused_ = true;
    off_cpu_.reset();
    warnings_.push_back(why);
    return std::unexpected(err);
  };
  auto fd = open_event(spec, pid, cpus_[cpu_index]);
  if (!fd) {
    if (fd.error() == ESRCH) return std::unexpected(ESRCH);  // the thread exited
    return fail(refusal(fd.error()), fd.error());
  }
  if (python_.kernel_reads()) {
    if (auto attached = attach_sample_program(fd->get(), true); !attached) {
      // Python stacks of switch-outs are then read from user space, polled every millisecond.
      if (options_.python.reads == PythonOptions::Reads::kKernel) {
        warnings_.push_back(fmt::format("Python stacks are read from user space: {}", attached.error().message()));
      } else {
        spdlog::info("Python stacks are read from user space: {}", attached.error().message());
      }
      python_.stop_kernel_reads();
      python_polls_for(UINT64_MAX);
    }
  }
  events_.push_back(Event{std::move(*fd), cpu_index, tid, true});
  if (auto r = add_ring(events_.back()); !r) {
    events_.pop_back();
    return fail(fmt::format("off-CPU time not recorded: {}; recording CPU samples only", r.error().message()),
                r.error().sys_errno() != 0 ? r.error().sys_errno() : ENOMEM);
  }
  if (auto id = event_id(events_.back().fd)) switch_ids_.insert(*id);
  if (!off_cpu_) {
    off_cpu_ = std::make_unique<OffCpuStacks>(*this, format_, options_.off_cpu_threshold_ns);
  }
  return events_.size() - 1;
}

void Recorder::Impl::start_off_cpu(const Target& target) {
  // Threads that exist now may sleep through the whole recording: known from the start, they
  // are counted even if they never switch.
  const ProcFs& procfs = processes_.procfs();
  std::vector<std::pair<int32_t, int32_t>> threads;
  auto add_threads = [&](int32_t pid) {
    if (auto tids = procfs.threads(pid)) {
      for (int32_t tid : *tids) threads.emplace_back(pid, tid);
    }
  };
  if (target.system_wide) {
    for (int32_t pid : procfs.all_pids()) {
      // Kernel threads (no executable) wait for work by design: a wall profile of them says nothing.
      Process* p = processes_.find(pid);
      if (p != nullptr && !p->exe().empty()) add_threads(pid);
    }
  } else {
    for (const Watched& w : watched_) add_threads(w.pid);
  }
  off_cpu_->existing_threads(threads, monotonic_ns(), procfs.root());
}

bool Recorder::Impl::unwind_switch_out(const SampleRecord& s, std::vector<UnwoundFrame>& out) {
  unwind_sample(s, processes_.get(s.sid.pid), out);
  return unwinder_.last_reached_root();
}

PythonReadPtr Recorder::Impl::take_python(const SampleRecord& s) { return python_.take(s.sid.tid, s.sid.time); }

void Recorder::Impl::add_off_cpu(int32_t pid, int32_t tid, std::span<const UnwoundFrame> frames,
                                 const std::shared_ptr<const profile::Module>& stand_in,
                                 const profile::RawStackCounts& counts, const OffCpuPython& python) {
  Process& process = processes_.get(pid);
  if (!process.recorded()) return;
  if (!stand_in) {
    to_raw_frames(process, frames);
    if (python.read != nullptr) {
      python_.merge_off_cpu(process, *python.read, python.off_until, python.first_charge, python.native_complete,
                            window_, generation_, python_module_id(), raw_frames_);
    }
    add_raw_stack(process, processes_.thread(process, tid), tid, counts);
    return;
  }
  raw_frames_.clear();
  raw_frames_.push_back(profile::RawFrame{window_.add_module(stand_in), 0});
  add_raw_stack(process, processes_.thread(process, tid), tid, counts);
}

}  // namespace ember::collector
