#include "collector/recorder.h"

#include "collector/recorder_impl.h"

#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>
#include <unordered_set>

#include "collector/command_launcher.h"
#include "collector/event_source.h"
#include "collector/module_cache.h"
#include "collector/process_table.h"
#include "collector/python_targets.h"
#include "collector/procfs.h"
#include "collector/record_decoder.h"
#include "collector/reorder_queue.h"
#include "collector/ring_buffer.h"
#include "collector/thread_dedup.h"
#include "python/kernel_reader.h"
#include "collector/unwinder.h"

namespace ember::collector {

namespace {

// A record stamped this long before ember started reading the rings has been fully written by
// then (the kernel stamps and writes a record in one go), so nothing older can still arrive:
// everything up to here may be applied. It bounds the reorder latency too.
constexpr uint64_t kReorderDelayNs = 10'000'000;
constexpr size_t kReorderMaxBytes = 64u << 20;
// Rings are read round-robin in chunks of this size, so each CPU's space is released early.
constexpr size_t kReadChunkBytes = 256u << 10;
// poll() stops reading after this long even if the rings still hold data (a machine that
// produces faster than ember can process): the caller gets control back regularly.
constexpr uint64_t kMaxPollWorkNs = 250'000'000;
// How often the rings are read at least while Python stacks need it
// (Recorder::Impl::python_polls_until_ns_).
constexpr std::chrono::milliseconds kPythonPoll{1};

uint64_t now_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The open-files limit, raised to its hard maximum: -p opens one event per thread and CPU.
uint64_t raise_open_files_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : rl.rlim_cur;
}

bool is_readable_now(const common::UniqueFd& fd) {
  if (!fd) return false;
  pollfd p{fd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace

Recorder::Impl::Impl(const RecordOptions& options, std::unique_ptr<UserUnwinder> user_unwinder,
                     size_t max_held_files, const ProcFs& procfs)
    : options_(options),
      modules_(procfs, max_held_files),
      processes_(procfs, modules_, options.max_processes, options.process_filter),
      unwinder_(std::move(user_unwinder)),
      reorder_(kReorderMaxBytes,
               [this](const Record& rec, std::span<const std::byte> bytes) { apply_record(rec, bytes); }),
      python_(options.python),
      window_(options.max_unique_stacks) {}

// ---------------------------------------------------------------------------------------------
// Reading

uint64_t Recorder::Impl::read_rings(uint64_t deadline_ns) {
  uint64_t safe_until = UINT64_MAX;
  for (bool more = true; more;) {
    more = false;
    safe_until = UINT64_MAX;
    for (auto* set : {&rings_, &switch_rings_})
    for (auto& ring : *set) {
      if (!ring) continue;
      reading_switch_ring_ = set == &switch_rings_;
      last_record_time_ = 0;
      RingReadStats s = ring->reader().read(
          [this](std::span<const std::byte> bytes) { on_raw_record(bytes); }, kReadChunkBytes);
      stats_.records += s.records;
      stats_.bytes += s.bytes;
      stats_.malformed_records += s.malformed;
      if (!s.drained) {
        more = true;
        // A ring is written in time order: what it still holds is later than what was read.
        safe_until = std::min(safe_until, last_record_time_);
      }
    }
    if (more && deadline_ns != 0 && now_ns(CLOCK_MONOTONIC) > deadline_ns) break;
  }
  return safe_until;
}

void Recorder::Impl::on_raw_record(std::span<const std::byte> bytes) {
  auto rec = decode_record(bytes, format_);
  if (!rec) {
    stats_.malformed_records++;
    return;
  }
  // Loss and throttling are counted as they arrive; they need no ordering.
  if (const auto* lost = std::get_if<LostRecord>(&rec->body)) {
    if (reading_switch_ring_ && off_cpu_) {
      off_cpu_->count_lost(lost->lost);
    } else {
      stats_.lost_samples += lost->lost;
    }
    return;
  }
  if (const auto* lost = std::get_if<LostSamplesRecord>(&rec->body)) {
    stats_.lost_samples += lost->lost;
    return;
  }
  if (const auto* t = std::get_if<ThrottleRecord>(&rec->body)) {
    (t->throttle ? stats_.throttle_events : stats_.unthrottle_events)++;
    return;
  }
  if (std::holds_alternative<UnknownRecord>(rec->body)) {
    stats_.unknown_records++;
    return;
  }
  last_record_time_ = rec->time();
  if (const auto* s = std::get_if<SampleRecord>(&rec->body); s && off_cpu_ && switch_ids_.contains(s->sid.id)) {
    // The thread is leaving its CPU: its Python stack holds still until it is back (python_stacks.h).
    if (python_.enabled()) {
      const Process* p = processes_.find(s->sid.pid);
      if (p == nullptr || p->recorded()) python_.on_switch_out_read(s->sid.pid, s->sid.tid, s->sid.time, s->sid.cpu, s->ip);
    }
    // Most switch-outs need no stack copy (see off_cpu_stacks.h).
    if (auto cut = off_cpu_->compact(*s, bytes)) {
      queue_cut(*rec, bytes, *cut);
      return;
    }
  } else {
    note_for_python(*rec);  // CPU samples, mmaps, execs, exits: the Python side reads now
    if (const auto* s = std::get_if<SampleRecord>(&rec->body); s && !s->stack_user.empty()) {
      // Queued with the used part of its stack copy only (a few KiB of 32).
      if (auto cut = used_stack_cut(*s, bytes)) {
        queue_cut(*rec, bytes, *cut);
        return;
      }
    }
  }
  reorder_.push(*rec, bytes);
}

void Recorder::Impl::queue_cut(const Record& sample, std::span<const std::byte> bytes, const StackCut& cut) {
  // Written straight into the queue: copied once, decoded once.
  std::span<std::byte> room = reorder_.reserve(cut.size());
  reorder_.commit(write_stack_cut(cut, sample, bytes, room));
}

void Recorder::Impl::note_for_python(const Record& rec) {
  if (!python_.enabled()) return;
  if (const auto* s = std::get_if<SampleRecord>(&rec.body)) {
    // Now, not in time order: the thread keeps running, its Python stack changes.
    const Process* p = processes_.find(s->sid.pid);
    if (p == nullptr || p->recorded()) python_.on_sample_read(s->sid.pid, s->sid.tid, s->sid.time, s->sid.cpu, s->ip);
  } else if (const auto* m = std::get_if<MmapRecord>(&rec.body)) {
    python_.on_mmap(m->pid, m->filename);
    if (python_wakes() && !all_woken_ && !woken_pids_.contains(m->pid) &&
        may_be_python(m->filename)) {
      python_polls_for(UINT64_MAX);
    }
    if (python_.kernel_reads() && may_be_python(m->filename)) python_polls_for(kQuickPythonPollsNs);
  } else if (const auto* c = std::get_if<CommRecord>(&rec.body)) {
    if (c->exec) python_.on_exec(c->pid, c->sid.has_time ? c->sid.time : 0);
  } else if (const auto* t = std::get_if<TaskRecord>(&rec.body)) {
    if (t->exit && t->pid == t->tid) python_.on_exit(t->pid);
    if (t->exit && t->pid != t->tid) python_.on_thread_exit(t->pid, t->tid);
  }
}

void Recorder::Impl::apply_record(const Record& rec, std::span<const std::byte> bytes) {
  std::visit(
      [this, bytes](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, SampleRecord>) {
          if (switch_ids_.contains(r.sid.id)) {
            if (off_cpu_ && (!dedupe_ || dedup_.accept(r.sid.id, r.sid.tid))) {
              off_cpu_->on_switch_out_sample(r, bytes);
            }
          } else {
            on_sample(r);
          }
        } else if constexpr (std::is_same_v<T, SwitchRecord>) {
          if (off_cpu_) off_cpu_->on_switch(r);
        } else if constexpr (std::is_same_v<T, MmapRecord>) {
          processes_.on_mmap(r);
          if (r.pid == main_pid_ && !main_module_) note_main_module();
        } else if constexpr (std::is_same_v<T, CommRecord>) {
          processes_.on_comm(r);
        } else if constexpr (std::is_same_v<T, TaskRecord>) {
          if (r.exit) {
            if (off_cpu_) off_cpu_->on_exit(r.pid, r.tid, r.time);
            if (r.pid == main_pid_ && !main_module_) note_main_module();
            processes_.on_exit(r);
            if (dedupe_) dedup_.exited(r.tid);
          } else {
            processes_.on_fork(r);
            // A target's child (only targets have events that see forks): sampled from now on,
            // if the program has not found it already (it cannot when its parent exited first,
            // or ember runs in a PID namespace of its own).
            if (per_cpu_ && r.pid == r.tid && r.pid != r.ppid) {
              sample_program_->add_target(r.pid, python::KernelReader::Target::kChild);
            }
          }
        }
      },
      rec.body);
}

profile::ModuleId Recorder::Impl::module_id(const Mapping& m) {
  if (m.window_generation != generation_) {
    m.window_module = window_.add_module(m.module);
    m.window_generation = generation_;
  }
  return m.window_module;
}

profile::ModuleId Recorder::Impl::python_module_id() {
  if (python_generation_ != generation_) {
    python_id_ = window_.add_module(python_module_);
    python_generation_ = generation_;
  }
  return python_id_;
}

profile::ModuleId Recorder::Impl::kernel_module_id() {
  if (kernel_generation_ != generation_) {
    kernel_id_ = window_.add_module(modules_.kernel());
    kernel_generation_ = generation_;
  }
  return kernel_id_;
}

void Recorder::Impl::on_sample(const SampleRecord& s) {
  if (dedupe_ && !dedup_.accept(s.sid.id, s.sid.tid)) {
    stats_.duplicate_samples++;
    return;
  }
  Process& process = processes_.get(s.sid.pid);
  if (!process.recorded()) {
    stats_.filtered_samples++;
    return;
  }
  if (process.unknown()) stats_.samples_without_process++;
  unwind_sample(s, process, frames_);
  // cpu-clock's period is the nanoseconds since the last sample; a cycles period is in cycles,
  // so each sample stands for the nominal period.
  const uint64_t weight = spec_.hardware_cycles ? static_cast<uint64_t>(period_ns_) : s.period;
  if (add_stack(process, s.sid.tid, frames_, profile::RawStackCounts{1, weight}, s.sid.time)) {
    stats_.samples++;
    // Record times are CLOCK_MONOTONIC (event_source.cpp); the timeline keeps wall clock.
    window_.note_time(static_cast<int64_t>(s.sid.time) + wall_minus_monotonic_ns_);
  } else {
    stats_.dropped_samples++;
  }
}

void Recorder::Impl::unwind_sample(const SampleRecord& s, const Process& process,
                                   std::vector<UnwoundFrame>& out) {
  SampleContext ctx = user_sample_context(s, format_, &process);
  unwinder_.unwind(ctx, s, out);
  if (ctx.kernel_callchain.size() + ctx.user_callchain.size() >= spec_.max_stack) {
    stats_.stacks_at_depth_limit++;
  }
}

bool Recorder::Impl::add_stack(Process& process, int32_t tid, std::span<const UnwoundFrame> frames,
                               const profile::RawStackCounts& counts, uint64_t python_time) {
  const Thread& thread = processes_.thread(process, tid);
  to_raw_frames(process, frames);
  if (python_time != 0 && python_.enabled()) {
    python_.merge(process, tid, python_time, unwinder_.last_reached_root(), window_, generation_,
                  python_module_id(), raw_frames_);
  }
  return add_raw_stack(process, thread, tid, counts);
}

void Recorder::Impl::to_raw_frames(Process& process, std::span<const UnwoundFrame> frames) {
  raw_frames_.clear();
  for (const UnwoundFrame& f : frames) {
    // A return address points after the call; step back into the call instruction so the
    // frame names the call's line (pprof's convention). Interrupted addresses stay exact.
    const uint64_t address = f.interrupted ? f.address.value() : f.address.value() - 1;
    if (f.kernel) {
      raw_frames_.push_back(profile::RawFrame{kernel_module_id(), address});
      continue;
    }
    const Mapping* m = process.find_mapping(common::ProcessAddress(address));
    if (m == nullptr) {
      stats_.frames_without_mapping++;
      raw_frames_.push_back(profile::RawFrame{profile::ModuleId{}, address});
      continue;
    }
    raw_frames_.push_back(profile::RawFrame{module_id(*m), m->frame_offset(common::ProcessAddress(address))});
  }
}

bool Recorder::Impl::add_raw_stack(Process& process, const Thread& thread, int32_t tid,
                                   const profile::RawStackCounts& counts) {
  profile::SampleOrigin origin;
  origin.pid = process.pid();
  origin.tid = tid;
  if (process.window_generation != generation_) {
    process.window_comm = window_.intern(process.comm());
    process.window_service = window_.intern(processes_.service(process));
    process.window_generation = generation_;
  }
  if (thread.window_generation != generation_) {
    thread.window_comm = window_.intern(thread.comm);
    thread.window_generation = generation_;
  }
  origin.comm = process.window_comm;
  origin.thread_comm = thread.window_comm;
  origin.service = process.window_service;
  return window_.add(origin, raw_frames_, counts);
}

void Recorder::Impl::note_main_module() {
  if (main_module_ || main_pid_ <= 0) return;
  if (Process* p = processes_.find(main_pid_)) {
    if (p->main_module()) main_module_ = p->main_module();
  }
}

bool Recorder::Impl::targets_ended() {
  if (command_) return command_->try_reap();
  if (watched_.empty()) return false;  // -a: until stopped
  bool all = true;
  for (Watched& w : watched_) {
    if (!w.exited && is_readable_now(w.pidfd)) {
      w.exited = true;
      // A pidfd stays readable: unwatched, so the others' exits are still waited for.
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.pidfd.get(), nullptr);
    }
    all = all && w.exited;
  }
  return all;
}

void Recorder::Impl::python_polls_for(uint64_t ns) {
  const uint64_t now = now_ns(CLOCK_MONOTONIC);
  python_polls_until_ns_ = std::max(python_polls_until_ns_, ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

void Recorder::Impl::drain() {
  read_rings(0);
  reorder_.flush_all();
  if (off_cpu_) off_cpu_->applied_until(UINT64_MAX);
  python_.expire(UINT64_MAX);
}

Result<bool> Recorder::Impl::poll(std::chrono::milliseconds timeout) {
  if (finished_) return false;
  if (python_polls_until_ns_ != 0 && now_ns(CLOCK_MONOTONIC) < python_polls_until_ns_) {
    timeout = std::min(timeout, kPythonPoll);
  }
  timeout = std::min(timeout, max_poll_wait_);
  epoll_event ready[64];
  int n = ::epoll_wait(epoll_.get(), ready, 64, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
  if (n < 0) {
    if (errno != EINTR) return errno_error("epoll_wait");
    n = 0;
  }
  bool exit_reported = n == 0;  // a timeout: look anyway
  bool ring_ready = false;
  for (int i = 0; i < n; ++i) {
    if ((ready[i].data.u64 & kPidfdTag) != 0) exit_reported = true;
    else if ((ready[i].events & EPOLLIN) != 0) ring_ready = true;
    // An event whose task and all its inherited children exited reports HUP forever; stop
    // watching it (its ring, shared with other events, is still read every round).
    if ((ready[i].events & (EPOLLHUP | EPOLLERR)) != 0 && (ready[i].data.u64 & kPidfdTag) == 0) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, events_[ready[i].data.u64].fd.get(), nullptr);
    }
  }
  // Targets' exits come as pidfd events (level-triggered: reported at every wait once exited),
  // so a wake-up for samples alone needs no waitpid; without an exit fd, look every time.
  if (ring_ready) stats_.ring_wakeups++;
  const bool ended = (exit_reported || (command_ && !command_->exit_fd())) && targets_ended();
  const uint64_t round_start = now_ns(CLOCK_MONOTONIC);
  check_cpus(round_start);
  const uint64_t unread_after = read_rings(ended ? 0 : round_start + kMaxPollWorkNs);
  if (ended) {
    // Every task is gone: its records are all in the rings already.
    drain();
    finished_ = true;
    return false;
  }
  if (round_start > kReorderDelayNs) {
    const uint64_t applied_until = std::min(round_start - kReorderDelayNs, unread_after);
    reorder_.flush_until(applied_until);
    if (off_cpu_) off_cpu_->applied_until(applied_until);
    python_.expire(applied_until);  // reads whose sample was filtered, deduplicated or lost
  }
  return true;
}

void Recorder::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (const Event& e : events_) disable_event(e.fd);
  if (!finished_) drain();
  finished_ = true;
  if (off_cpu_) off_cpu_->finish(now_ns(CLOCK_MONOTONIC));
  if (command_ && !command_->reaped()) command_->terminate(std::chrono::milliseconds(5000));
  // Nothing more will be read: give the rings and fds back.
  rings_.clear();
  events_.clear();
  epoll_.reset();
}

void Recorder::Impl::start_window() {
  window_ = profile::RawProfile(options_.max_unique_stacks);
  generation_++;
  window_start_wall_ns_ = static_cast<int64_t>(now_ns(CLOCK_REALTIME));
  wall_minus_monotonic_ns_ = window_start_wall_ns_ - static_cast<int64_t>(now_ns(CLOCK_MONOTONIC));
  if (main_module_) window_.add_module(main_module_);
}

profile::RawProfile Recorder::Impl::take_profile() {
  note_main_module();
  if (off_cpu_ && !stopped_) off_cpu_->flush(now_ns(CLOCK_MONOTONIC));
  profile::RawProfile out = std::move(window_);
  out.off_cpu = off_cpu_ != nullptr;
  out.start_time_ns = window_start_wall_ns_;
  out.end_time_ns = static_cast<int64_t>(now_ns(CLOCK_REALTIME));
  out.period_ns = period_ns_;
  out.event = event_name_;
  if (main_module_) {
    if (out.module_count() == 0 || out.module_ptr(profile::ModuleId{0}) != main_module_) {
      // The main module became known mid-window: list it first, as pprof expects.
      profile::RawProfile sorted(options_.max_unique_stacks);
      sorted.add_module(main_module_);
      sorted.merge(out);
      out = std::move(sorted);
    }
    out.main_module = profile::ModuleId{0};
  }
  start_window();
  return out;
}

const CollectorStats& Recorder::Impl::stats() {
  reported_ = stats_;
  reported_ += unwinder_.stats();
  python_.add_stats(reported_);
  reported_.out_of_order_records = reorder_.stats().out_of_order;
  reported_.forced_reorder_flushes = reorder_.stats().forced_flushes;
  reported_.processes_evicted = processes_.stats().evicted;
  reported_.processes = processes_.size();
  reported_.modules = modules_.module_count();
  reported_.held_files = modules_.held_files();
  return reported_;
}

// ---------------------------------------------------------------------------------------------
// Recorder

Result<std::unique_ptr<Recorder>> Recorder::start(const Target& target, const RecordOptions& options) {
  if (options.frequency_hz == 0) {
    return make_error(ErrorCode::kInvalidArgument, "the sampling frequency must be at least 1 Hz");
  }
  auto user = make_user_unwinder(options.call_graph, options.stack_size, options.dwarf_engine);
  if (!user) return std::unexpected(user.error());
  const uint64_t nofile = raise_open_files_limit();
  // Held binaries share the fd budget with the events: a quarter of it, at most 1024.
  const size_t max_held = static_cast<size_t>(std::min<uint64_t>(1024, nofile / 4));
  auto impl = std::make_unique<Impl>(options, std::move(*user), max_held);
  if (auto r = impl->open(target); !r) return std::unexpected(r.error());
  return std::unique_ptr<Recorder>(new Recorder(std::move(impl)));
}

Recorder::Recorder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recorder::~Recorder() = default;

const std::string& Recorder::event_name() const { return impl_->event_name_; }
bool Recorder::samples_per_cpu() const { return impl_->samples_per_cpu(); }
std::string_view Recorder::event_note() const { return impl_->event_note_; }
const std::vector<std::string>& Recorder::warnings() const { return impl_->warnings_; }
uint32_t Recorder::frequency_hz() const { return impl_->frequency_hz(); }
Result<bool> Recorder::poll(std::chrono::milliseconds timeout) { return impl_->poll(timeout); }
void Recorder::stop() { impl_->stop(); }
profile::RawProfile Recorder::take_profile() { return impl_->take_profile(); }
const CollectorStats& Recorder::stats() const { return impl_->stats(); }
std::optional<OffCpuCounters> Recorder::off_cpu_counters() const { return impl_->off_cpu_counters(); }
std::optional<int> Recorder::command_wait_status() const {
  return impl_->command_ ? impl_->command_->wait_status() : std::nullopt;
}
int32_t Recorder::command_pid() const { return impl_->command_ ? impl_->command_->pid() : 0; }

}  // namespace ember::collector
