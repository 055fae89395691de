// Recorder::Impl's opening: the perf events of -a, -p and a launched command, their rings, the
// targets' exit watch. Reading and samples are in recorder.cpp, switch events in
// recorder_off_cpu.cpp, the sample program and per-CPU sampling of chosen processes in
// recorder_per_cpu.cpp.

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "collector/python_targets.h"
#include "collector/recorder_impl.h"
#include "python/kernel_reader.h"

namespace ember::collector {

namespace {

constexpr size_t kFramePointerRingBytes = 512u << 10;
constexpr size_t kDwarfRingBytes = 8u << 20;
constexpr size_t kMaxDefaultRingBytes = 16u << 20;
// A frame-pointer sample with a deep stack is a few hundred bytes.
constexpr size_t kFramePointerSampleBytes = 512;
// A sample's bytes besides its stack copy, about: header, ids, callchain, registers.
constexpr double kSampleHeadBytes = 1024;
constexpr size_t kMinRingPages = 4;
// -p: threads started while the events were being opened are looked for again, pass after
// pass until none is new, at most this many passes (a process spawning threads without end).
constexpr int kMaxRescans = 16;

std::string paranoid_text() {
  auto p = perf_event_paranoid();
  return p ? std::to_string(*p) : std::string("unknown");
}

}  // namespace

size_t round_ring_bytes(size_t requested) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t pages = std::max<size_t>((requested + page - 1) / page, kMinRingPages);
  return std::bit_ceil(pages) * page;
}

std::expected<size_t, int> Recorder::Impl::open_one(pid_t pid, int cpu_index, int32_t tid) {
  if (per_cpu_ && pid != -1) return open_side_band(pid, cpu_index, tid);
  spec_.wakeup_bytes = wakeup_bytes();
  // A per-CPU event of chosen processes brings their samples only: the side-band records of
  // every process on the CPU would flood its ring.
  spec_.side_band = !per_cpu_;
  std::expected<common::UniqueFd, int> fd =
      event_name_.empty() ? negotiate_event(spec_, pid, cpus_[cpu_index], warnings_, event_note_)
                          : open_event(spec_, pid, cpus_[cpu_index]);
  if (!fd) return std::unexpected(fd.error());
  if (event_name_.empty()) {
    // The first event fixed the configuration every other event uses.
    event_name_ = spec_.name();
    format_ = spec_.sample_format();
  }
  if (per_cpu_) {
    // Without the program, the event would record every process on the CPU.
    if (auto attached = attach_sample_program(fd->get(), false); !attached) {
      open_error_ = attached.error();
      return std::unexpected(EOPNOTSUPP);
    }
  } else if (python_.kernel_reads()) {
    if (auto attached = attach_sample_program(fd->get(), false); !attached) {
      // Said once; Python stacks are read from user space from here on, polled every
      // millisecond since the events opened so far do not wake ember per sample.
      if (options_.python.reads == PythonOptions::Reads::kKernel) {
        open_error_ = Error(attached.error().code(),
                            fmt::format("cannot read Python stacks in the kernel: {}", attached.error().message()));
        return std::unexpected(EINVAL);
      }
      spdlog::info("Python stacks are read from user space: {}", attached.error().message());
      python_.stop_kernel_reads();
      python_polls_for(UINT64_MAX);
    }
  }
  events_.push_back(Event{std::move(*fd), cpu_index, tid});
  const size_t index = events_.size() - 1;
  if (options_.off_cpu && !off_cpu_refused_ && !per_cpu_) (void)open_switch_event(pid, cpu_index, tid);
  return index;
}

Result<void> Recorder::Impl::add_ring(Event& event) {
  const size_t index = static_cast<size_t>(&event - events_.data());
  auto& ring = (event.switches ? switch_rings_ : rings_)[event.cpu_index];
  auto& owner = (event.switches ? switch_ring_owner_ : ring_owner_)[event.cpu_index];
  if (ring && owner == index) return {};  // mapped when it was opened (a switch event)
  if (ring) {
    if (auto r = redirect_output(event.fd, events_[owner].fd); !r) {
      return std::unexpected(r.error().with_context(fmt::format("CPU {}", cpus_[event.cpu_index])));
    }
    return {};
  }
  // Locked-memory limits (perf_event_mlock_kb, RLIMIT_MEMLOCK) can refuse big rings for users
  // without CAP_IPC_LOCK: shrink rather than fail.
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  for (;;) {
    size_t& bytes = event.switches ? switch_ring_bytes_ : ring_bytes_;
    auto mapped = MappedRing::map(event.fd, bytes);
    if (mapped) {
      ring.emplace(std::move(*mapped));
      owner = index;
      return {};
    }
    int err = mapped.error().sys_errno();
    if ((err == EPERM || err == ENOMEM) && bytes > kMinRingPages * page) {
      bytes /= 2;
      rings_shrunk_ = true;  // said once, at the end of open()
      continue;
    }
    return std::unexpected(mapped.error());
  }
}

size_t Recorder::Impl::default_ring_bytes() const {
  if (options_.call_graph == CallGraphMode::kDwarf) {
    // Each sample carries a copy of the user stack.
    return std::max<size_t>(kDwarfRingBytes, std::min<size_t>(kMaxDefaultRingBytes, 64 * size_t{options_.stack_size}));
  }
  // Room for a quarter of a second of samples per CPU, so a poller that is late (a busy
  // machine) does not lose any; at least perf's default.
  const size_t quarter_second = size_t{spec_.frequency_hz} * kFramePointerSampleBytes / 4;
  return std::clamp(quarter_second, kFramePointerRingBytes, kMaxDefaultRingBytes);
}

Error Recorder::Impl::pid_open_error(int32_t pid, int err) const {
  if (err == EACCES || err == EPERM) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("not permitted to profile process {}: kernel.perf_event_paranoid is {}; "
                             "profiling another user's process needs CAP_PERFMON (or root)",
                             pid, paranoid_text()),
                 err);
  }
  if (err == EMFILE || err == ENFILE) {
    return Error(ErrorCode::kResourceExhausted,
                 fmt::format("cannot open perf events for process {}: {} (ember needs one per thread "
                             "and CPU; raise the open-files limit, ulimit -n)",
                             pid, std::strerror(err)),
                 err);
  }
  return Error::from_errno(fmt::format("cannot open perf events for process {}", pid), err);
}

Result<void> Recorder::Impl::open_system_wide() {
  spec_.inherit = false;
  cpu_event_.assign(cpus_.size(), SIZE_MAX);
  cpu_enabled_ns_.assign(cpus_.size(), 0);
  // Any process may run CPython: which one a per-CPU event's record belongs to is known too late.
  wake_per_record_ = all_woken_ = python_wakes();
  targets_python_ = true;
  for (size_t c = 0; c < cpus_.size(); ++c) {
    if (auto r = open_cpu(c); !r) return r;
  }
  for (const Event& e : events_) {
    if (auto r = enable_event(e.fd); !r) return std::unexpected(r.error());
  }
  // Enabled first, then scanned: a process that starts meanwhile is in the scan or in the records.
  for (int32_t pid : processes_.procfs().all_pids()) processes_.load(pid);
  return {};
}

Result<void> Recorder::Impl::open_cpu(size_t c) {
  // A CPU's event belongs to no task: nothing to inherit, no exec to wait for.
  const bool inherit = std::exchange(spec_.inherit, false);
  const bool enable_on_exec = std::exchange(spec_.enable_on_exec, false);
  auto index = open_one(-1, static_cast<int>(c), -1);
  spec_.inherit = inherit;
  spec_.enable_on_exec = enable_on_exec;
  if (!index) {
    int err = index.error();
    if (per_cpu_ && open_error_) {
      Error why = *std::exchange(open_error_, std::nullopt);
      return make_error(why.code(), fmt::format("cannot sample per CPU: {}", why.message()));
    }
    if (err == EACCES || err == EPERM) {
      if (per_cpu_) {
        return make_error(ErrorCode::kPermissionDenied,
                          fmt::format("not permitted to sample per CPU: it needs CAP_PERFMON (or root), or "
                                      "kernel.perf_event_paranoid <= 0 (it is {})",
                                      paranoid_text()));
      }
      return make_error(ErrorCode::kPermissionDenied,
                        fmt::format("not permitted to profile the whole system (-a): it needs "
                                    "CAP_PERFMON (or root), or kernel.perf_event_paranoid <= 0 "
                                    "(it is {})",
                                    paranoid_text()));
    }
    return errno_error(fmt::format("cannot open the {} event on CPU {}",
                                   event_name_.empty() ? spec_.name() : event_name_, cpus_[c]),
                       err);
  }
  if (auto r = add_ring(events_[*index]); !r) {
    events_.pop_back();  // no ring to write into: it would be enabled for nothing
    return std::unexpected(r.error());
  }
  cpu_event_[c] = *index;
  cpu_enabled_ns_[c] = 0;
  return {};
}

Result<void> Recorder::Impl::open_pids(const std::vector<int32_t>& requested) {
  const ProcFs& procfs = processes_.procfs();
  std::vector<int32_t> pids;
  for (int32_t pid : requested) {
    if (pid <= 0) return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid process id {}", pid));
    auto tgid = procfs.tgid(pid);
    if (!tgid) return make_error(ErrorCode::kNotFound, fmt::format("process {} does not exist", pid));
    if (*tgid != pid) {
      warnings_.push_back(fmt::format("{} is a thread of process {}; profiling the whole process", pid, *tgid));
    }
    if (std::find(pids.begin(), pids.end(), *tgid) == pids.end()) pids.push_back(*tgid);
  }
  for (int32_t pid : pids) {
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
      if (errno == ESRCH) return make_error(ErrorCode::kNotFound, fmt::format("process {} does not exist", pid));
      return errno_error(fmt::format("process {}: pidfd_open", pid));
    }
    watched_.push_back(Watched{pid, common::UniqueFd(static_cast<int>(fd)), false});
  }

  // Every existing thread gets an event per CPU; inherit=1 covers threads created after their
  // creator's event exists. Threads created while we were opening are caught by re-scanning.
  spec_.inherit = true;
  std::set<int32_t> opened;
  if (python_wakes()) {
    for (int32_t pid : pids) {
      if (runs_python(procfs, pid)) woken_pids_.insert(pid);
    }
  } else if (python_.kernel_reads()) {
    targets_python_ = std::any_of(pids.begin(), pids.end(), [&](int32_t pid) { return runs_python(procfs, pid); });
  }
  if (per_cpu_) {
    for (int32_t pid : pids) sample_program_->add_target(pid, python::KernelReader::Target::kChosen);
    // One event per CPU writes every target's samples: it wakes ember per sample when one of
    // them is read from user space (a CPython, without kernel reads).
    wake_per_record_ = all_woken_ = !woken_pids_.empty();
    if (auto r = open_target_cpus(); !r) return r;
    wake_per_record_ = all_woken_ = false;  // each thread's events: as its process needs
  }
  const size_t first_thread_event = events_.size();
  // A ring's wake point is set by the first event that writes to it: processes that do not wake
  // ember per sample first, so that each CPU's ring wakes it at a quarter (an event that wakes
  // per sample still does so in a ring another event owns).
  std::vector<int32_t> open_order = pids;
  std::stable_partition(open_order.begin(), open_order.end(), [&](int32_t pid) { return !woken_pids_.contains(pid); });
  auto open_new_threads = [&](bool enable_now) -> Result<size_t> {
    size_t added = 0;
    for (int32_t pid : open_order) {
      auto tids = procfs.threads(pid);
      if (!tids) continue;  // exited meanwhile: the pidfd reports it
      wake_per_record_ = woken_pids_.contains(pid);
      for (int32_t tid : *tids) {
        if (opened.contains(tid)) continue;
        bool gone = false;
        size_t first_new = events_.size();
        for (size_t c = 0; c < cpus_.size() && !gone; ++c) {
          auto index = open_one(tid, static_cast<int>(c), tid);
          if (!index) {
            if (index.error() == ESRCH) {
              gone = true;  // the thread exited: nothing to sample
              break;
            }
            return std::unexpected(pid_open_error(pid, index.error()));
          }
          if (auto r = add_ring(events_[*index]); !r) return std::unexpected(r.error());
        }
        opened.insert(tid);
        if (gone) continue;
        for (size_t i = first_new; i < events_.size(); ++i) {
          if (auto id = event_id(events_[i].fd)) dedup_.opened(*id, tid);
          if (enable_now) {
            if (auto r = enable_event(events_[i].fd); !r) return std::unexpected(r.error());
          }
        }
        ++added;
      }
    }
    return added;
  };
  auto first = open_new_threads(false);
  if (!first) return std::unexpected(first.error());
  if (events_.size() == first_thread_event) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("process {} exited while ember was attaching", pids.front()));
  }
  for (const Event& e : events_) {
    if (auto r = enable_event(e.fd); !r) return std::unexpected(r.error());
  }
  for (int pass = 0; pass < kMaxRescans; ++pass) {
    auto added = open_new_threads(true);
    if (!added) return std::unexpected(added.error());
    if (*added == 0) break;
  }
  dedupe_ = true;
  for (int32_t pid : pids) {
    processes_.load(pid);
    // Started CPython between the look above and its events (no mmap record for that): read
    // every millisecond, as a command that becomes CPython later is.
    if (python_wakes() && !woken_pids_.contains(pid) && runs_python(procfs, pid)) python_polls_for(UINT64_MAX);
  }
  main_pid_ = pids.front();
  note_main_module();
  return {};
}

Result<void> Recorder::Impl::open_command(const std::vector<std::string>& argv) {
  auto cmd = LaunchedCommand::spawn(argv);
  if (!cmd) return std::unexpected(cmd.error());
  command_.emplace(std::move(*cmd));
  const pid_t pid = command_->pid();
  // Disabled until exec, then inherited by every thread and child the command creates.
  spec_.inherit = true;
  spec_.enable_on_exec = true;
  if (python_wakes() || python_.kernel_reads()) {
    auto executable = resolve_executable(argv[0]);
    const bool python = executable && launches_python(*executable);
    if (python_wakes()) wake_per_record_ = all_woken_ = python;
    targets_python_ = python;
  }
  if (per_cpu_) {
    sample_program_->add_target(pid, python::KernelReader::Target::kAfterExec);
    if (auto r = open_target_cpus(); !r) return r;
  }
  for (size_t c = 0; c < cpus_.size(); ++c) {
    auto index = open_one(pid, static_cast<int>(c), pid);
    if (!index) {
      int err = index.error();
      if (err == EACCES || err == EPERM) {
        return make_error(ErrorCode::kPermissionDenied,
                          fmt::format("not permitted to use perf events: kernel.perf_event_paranoid "
                                      "is {}; it needs CAP_PERFMON (or root), or a value of 2 or less",
                                      paranoid_text()));
      }
      return errno_error(fmt::format("cannot open perf events for '{}'", argv[0]), err);
    }
    if (auto r = add_ring(events_[*index]); !r) return std::unexpected(r.error());
  }
  // The CPUs' events sample from now on; the command's own events wait for its exec.
  for (size_t index : cpu_event_) {
    if (index == SIZE_MAX) continue;
    if (auto r = enable_event(events_[index].fd); !r) return std::unexpected(r.error());
  }
  if (auto r = command_->release(); !r) return std::unexpected(r.error());
  main_pid_ = pid;
  return {};
}

Result<void> Recorder::Impl::open(const Target& target) {
  int modes = (target.system_wide ? 1 : 0) + (target.pids.empty() ? 0 : 1) + (target.command.empty() ? 0 : 1);
  if (modes != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "choose exactly one target: process ids (-p), the whole system (-a), or a command");
  }
  auto cpus = online_cpus();
  if (!cpus) return std::unexpected(cpus.error());
  cpus_ = std::move(*cpus);
  rings_.resize(cpus_.size());
  ring_owner_.resize(cpus_.size());
  switch_rings_.resize(cpus_.size());
  switch_ring_owner_.resize(cpus_.size());

  spec_.frequency_hz = options_.frequency_hz;
  const uint32_t max_rate = max_sample_rate();
  if (spec_.frequency_hz > max_rate) {
    warnings_.push_back(fmt::format(
        "sampling frequency lowered from {} Hz to {} Hz (kernel.perf_event_max_sample_rate)",
        spec_.frequency_hz, max_rate));
    spec_.frequency_hz = max_rate;
  }
  spec_.kernel_frames = options_.kernel_frames;
  spec_.max_stack = max_stack_depth();
  spec_.needs = unwinder_.needs();
  ring_bytes_ = round_ring_bytes(options_.buffer_bytes_per_cpu != 0 ? options_.buffer_bytes_per_cpu
                                                                    : default_ring_bytes());
  // Wake the poller when a quarter of the ring is used: room to spare before it overflows. For
  // processes that run CPython, at every record instead (wake_per_record_): a poller that wakes
  // once per ~60 DWARF samples would read their Python stacks milliseconds late, in one burst,
  // nearly the same Python stack for each.
  quarter_ring_bytes_ = static_cast<uint32_t>(std::min<size_t>(ring_bytes_ / 4, UINT32_MAX));
  // Switch events come in bursts of thousands a second, each with a stack copy: more room.
  switch_ring_bytes_ = round_ring_bytes(std::min<size_t>(8 * ring_bytes_, kMaxSwitchRingBytes));

  if (auto r = load_sample_program(target); !r) return r;
  {
    int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return errno_error("epoll_create1");
    epoll_.reset(fd);
  }
  Result<void> opened = target.system_wide      ? open_system_wide()
                        : !target.pids.empty() ? open_pids(target.pids)
                                               : open_command(target.command);
  if (!opened) return open_error_ ? std::unexpected(*open_error_) : opened;

  // Event fds wake the poller when their ring fills; pidfds when a target exits.
  auto watch_fd = [&](int fd, uint64_t data) -> Result<void> {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = data;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl");
    return {};
  };
  for (size_t i = 0; i < events_.size(); ++i) {
    if (auto r = watch_fd(events_[i].fd.get(), i); !r) return r;
  }
  for (size_t i = 0; i < watched_.size(); ++i) {
    if (auto r = watch_fd(watched_[i].pidfd.get(), kPidfdTag | i); !r) return r;
  }
  if (command_ && command_->exit_fd()) {
    if (auto r = watch_fd(command_->exit_fd().get(), kPidfdTag | watched_.size()); !r) return r;
  }
  if (rings_shrunk_) {
    warnings_.push_back(fmt::format(
        "perf ring buffers reduced to {} KiB per CPU (limited by kernel.perf_event_mlock_kb or "
        "RLIMIT_MEMLOCK); samples may be lost at high rates",
        ring_bytes_ >> 10));
    // The events were opened to wake ember at a quarter of the ring asked for, and a ring's wake
    // point is capped at its size when it is mapped: a ring that came out smaller may fill
    // without waking anyone. poll() then looks at least every half ring's worth of samples (at
    // most one sample per CPU per period: one thread runs on a CPU at a time), and every
    // millisecond when the switch rings shrank too (switches have no rate).
    const double sample_bytes = static_cast<double>(spec_.needs.stack_user_bytes) + kSampleHeadBytes;
    const double fill_ms = 1e3 * static_cast<double>(ring_bytes_) / (sample_bytes * spec_.frequency_hz);
    max_poll_wait_ = std::chrono::milliseconds(std::clamp<int64_t>(static_cast<int64_t>(fill_ms / 2), 1, 100));
    if (off_cpu_ && switch_ring_bytes_ < 2 * size_t{quarter_ring_bytes_}) max_poll_wait_ = std::chrono::milliseconds(1);
  }
  period_ns_ = static_cast<int64_t>(1'000'000'000ull / spec_.frequency_hz);
  if (spec_.hardware_cycles && event_note_.empty()) event_note_ = "hardware cycles event";
  if (off_cpu_) start_off_cpu(target);
  if (python_.kernel_reads() && targets_python_) python_polls_for(kQuickPythonPollsNs);
  for (const std::string& w : warnings_) spdlog::warn("{}", w);
  start_window();
  return {};
}

}  // namespace ember::collector
