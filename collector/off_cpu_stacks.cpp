#include "collector/off_cpu_stacks.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ember::collector {

namespace {

// x86-64 perf register numbers (arch/x86/include/uapi/asm/perf_regs.h).
constexpr int kRegBp = 6;
constexpr int kRegSp = 7;
constexpr int kRegIp = 8;

// Short blocks at places not seen before are unwound at most this often (a token bucket with a
// burst of one second's worth): a flood of switches at ever new places cannot take ember's CPU.
constexpr double kShortUnwindsPerSecond = 1000;
// Stack copies kept for threads off CPU, until their block's length is known.
constexpr size_t kMaxPendingBytes = 64u << 20;
// Remembered stacks (per thread and place); emptied when full.
constexpr size_t kMaxRemembered = 1u << 16;

int register_index(uint64_t mask, int reg) {
  if ((mask & (1ull << reg)) == 0) return -1;
  return std::popcount(mask & ((1ull << reg) - 1));
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 1099511628211ull;
}

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

OffCpuStacks::OffCpuStacks(OffCpuHost& host, const SampleFormat& format, uint64_t threshold_ns)
    : host_(host),
      format_(format),
      threshold_ns_(threshold_ns),
      tracker_(static_cast<OffCpuSink&>(*this)),
      unwind_tokens_(kShortUnwindsPerSecond) {
  ip_index_ = register_index(format.regs_user_mask, kRegIp);
  sp_index_ = register_index(format.regs_user_mask, kRegSp);
  bp_index_ = register_index(format.regs_user_mask, kRegBp);
}

OffCpuStacks::~OffCpuStacks() = default;

void OffCpuStacks::existing_threads(const std::vector<std::pair<int32_t, int32_t>>& pid_tid,
                                    uint64_t time, const std::string& proc_root) {
  for (auto [pid, tid] : pid_tid) {
    const std::string dir = fmt::format("{}/{}/task/{}/", proc_root, pid, tid);
    // "pid (comm) S ...": the state follows the last ')' (a comm may hold parentheses).
    std::string stat = read_small_file(dir + "stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) {
      counters_.unreadable_state++;
      continue;
    }
    const char state = stat[paren + 2];
    if (state == 'Z' || state == 'X') continue;
    const bool runnable = state == 'R';
    if (!runnable) {
      // Where it sleeps, when the kernel says (wchan is "0" when it will not).
      std::string wchan = read_small_file(dir + "wchan");
      while (!wchan.empty() && (wchan.back() == '\n' || wchan.back() == '\0')) wchan.pop_back();
      if (!wchan.empty() && wchan != "0" && wchan.size() < 128) wait_channel_[tid] = wchan;
    }
    tracker_.existing_thread(pid, tid, time, runnable);
  }
}

uint64_t OffCpuStacks::place_of(const SampleRecord& s) const {
  uint64_t h = mix(1469598103934665603ull,
                   (static_cast<uint64_t>(static_cast<uint32_t>(s.sid.pid)) << 32) |
                       static_cast<uint32_t>(s.sid.tid));
  for (size_t i = 0; i < s.callchain.size(); ++i) h = mix(h, s.callchain[i]);
  for (int index : {ip_index_, sp_index_, bp_index_}) {
    if (index >= 0 && static_cast<size_t>(index) < s.regs_user.size()) h = mix(h, s.regs_user[index]);
  }
  return h;
}

uint32_t OffCpuStacks::new_slot() {
  if (!free_slots_.empty()) {
    uint32_t i = free_slots_.back();
    free_slots_.pop_back();
    slots_[i].in_use = true;
    return i;
  }
  slots_.emplace_back();
  slots_.back().in_use = true;
  return static_cast<uint32_t>(slots_.size() - 1);
}

bool OffCpuStacks::take_short_unwind(uint64_t now) {
  if (tokens_time_ != 0 && now > tokens_time_) {
    unwind_tokens_ = std::min(kShortUnwindsPerSecond,
                              unwind_tokens_ + static_cast<double>(now - tokens_time_) * 1e-9 *
                                                   kShortUnwindsPerSecond);
  }
  tokens_time_ = std::max(tokens_time_, now);
  if (unwind_tokens_ < 1) return false;
  unwind_tokens_ -= 1;
  return true;
}

std::optional<StackCut> OffCpuStacks::compact(const SampleRecord& sample, std::span<const std::byte> bytes) {
  if (threshold_ns_ == 0 || sample.stack_user.empty()) return std::nullopt;
  const uint64_t place = place_of(sample);
  if (!remembered_.contains(place)) {
    // The first switch-out from a place keeps its copy; the next ones from there, read before it
    // is unwound (a backlog at the start, a poller woken at a quarter of the ring), take its stack
    // then: the same thread left from the same place, and its block ended before they began.
    if (first_copies_.size() >= kMaxRemembered) first_copies_.clear();
    if (first_copies_.insert(place).second) return std::nullopt;
  }
  auto cut = stack_cut(sample, bytes, 0);  // no stack, as the kernel writes it when it has none
  if (cut) counters_.compacted++;
  return cut;
}

void OffCpuStacks::on_switch_out_sample(const SampleRecord& sample, std::span<const std::byte> bytes) {
  if (sample.sid.tid <= 0) return;  // the idle task
  const uint32_t index = new_slot();
  Slot& slot = slots_[index];
  slot.pid = sample.sid.pid;
  slot.place = place_of(sample);
  slot.resolved = false;
  auto known = threshold_ns_ > 0 ? remembered_.find(slot.place) : remembered_.end();
  if (known != remembered_.end()) {
    // Left from a place this thread left from before: the same stack, no copy, no unwinding.
    slot.frames = known->second.frames;
    slot.complete = known->second.complete;
    slot.resolved = true;
    counters_.remembered++;
  } else if (counters_.pending_bytes + bytes.size() <= kMaxPendingBytes) {
    // A new place: kept until the block's length decides whether it is worth unwinding.
    slot.record.assign(bytes.begin(), bytes.end());
    counters_.pending_bytes += bytes.size();
  } else {
    counters_.pending_limit++;
    slot.complete = host_.unwind_switch_out(sample, slot.frames);
    counters_.unwound++;
    slot.resolved = true;
    first_copies_.erase(slot.place);
  }
  slot.python = host_.take_python(sample);
  slot.charged = false;
  tracker_.switch_out_sample(sample.sid.pid, sample.sid.tid, sample.sid.time, index);
}

void OffCpuStacks::on_switch(const SwitchRecord& r) {
  if (r.sid.tid <= 0) return;
  if (r.out) {
    tracker_.switch_out(r.sid.pid, r.sid.tid, r.sid.time, r.preempted);
  } else {
    tracker_.switch_in(r.sid.pid, r.sid.tid, r.sid.time);
  }
}

void OffCpuStacks::on_exit(int32_t pid, int32_t tid, uint64_t time) {
  tracker_.thread_exit(pid, tid, time);
  wait_channel_.erase(tid);
}

void OffCpuStacks::flush(uint64_t time) { tracker_.flush(time); }

void OffCpuStacks::finish(uint64_t time) { tracker_.finish(time); }

void OffCpuStacks::resolve(Slot& slot, bool long_block) {
  auto record = decode_record(slot.record, format_);
  slot.frames.clear();
  slot.complete = false;
  const SampleRecord* s = record ? std::get_if<SampleRecord>(&record->body) : nullptr;
  first_copies_.erase(slot.place);
  if (s != nullptr) {
    // User registers without a stack: its copy was dropped on arrival, and its place was not
    // unwound after all (its first switch-out past the budget, or lost). Nothing to unwind.
    const bool copy_dropped = s->stack_user.empty() && !s->regs_user.empty();
    if (!copy_dropped && (long_block || take_short_unwind(s->sid.time))) {
      slot.complete = host_.unwind_switch_out(*s, slot.frames);
      counters_.unwound++;
      if (threshold_ns_ > 0) {
        if (remembered_.size() >= kMaxRemembered) remembered_.clear();
        remembered_[slot.place] = Remembered{slot.frames, slot.complete};
      }
    } else {
      // Kernel frames and the user pc: what is known without unwinding.
      counters_.not_unwound++;
      SplitCallchain split = split_callchain(*s);
      for (size_t i = 0; i < split.kernel.size(); ++i) {
        slot.frames.push_back(UnwoundFrame{common::ProcessAddress(split.kernel[i]), true, i == 0});
      }
      if (ip_index_ >= 0 && static_cast<size_t>(ip_index_) < s->regs_user.size()) {
        slot.frames.push_back(UnwoundFrame{common::ProcessAddress(s->regs_user[ip_index_]), false, true});
      } else if (!split.user.empty()) {
        slot.frames.push_back(UnwoundFrame{common::ProcessAddress(split.user[0]), false, true});
      }
    }
  }
  counters_.pending_bytes -= slot.record.size();
  slot.record.clear();
  if (slot.record.capacity() > (64u << 10)) slot.record.shrink_to_fit();
  slot.resolved = true;
}

const std::shared_ptr<const profile::Module>& OffCpuStacks::stand_in(const std::string& name) {
  auto& module = stand_ins_[name];
  if (!module) {
    auto m = std::make_shared<profile::Module>();
    m->kind = profile::MappingKind::kAnonymous;
    m->path = name;
    module = std::move(m);
  }
  return module;
}

void OffCpuStacks::charge(const OffCpuInterval& interval) {
  profile::RawStackCounts counts;
  (interval.runnable ? counts.runnable_ns : counts.blocked_ns) = interval.ns();
  static const std::shared_ptr<const profile::Module> kNone;
  const OffCpuPython no_python;
  if (interval.origin == OffCpuOrigin::kBeforeStart) {
    auto wchan = wait_channel_.find(interval.tid);
    std::string name = wchan == wait_channel_.end() || interval.runnable
                           ? std::string("[off-cpu: since before the recording, stack unknown]")
                           : fmt::format("[off-cpu: since before the recording, stack unknown, in {}]",
                                         wchan->second);
    if (stand_ins_.size() > 1024 && !stand_ins_.contains(name)) {
      name = "[off-cpu: since before the recording, stack unknown]";
    }
    host_.add_off_cpu(interval.pid, interval.tid, {}, stand_in(name), counts, no_python);
    return;
  }
  if (interval.stack == kNoStack || interval.stack >= slots_.size()) {
    host_.add_off_cpu(interval.pid, interval.tid, {}, stand_in("[off-cpu: switch-out sample lost]"), counts,
                      no_python);
    return;
  }
  Slot& slot = slots_[interval.stack];
  if (!slot.resolved) resolve(slot, interval.block_ns() >= threshold_ns_);
  OffCpuPython python;
  python.read = slot.python.get();
  python.native_complete = slot.complete;
  python.first_charge = !slot.charged;
  // Until when the thread is known to have stayed off CPU: its switch-in; the last record
  // applied while the block is still open; for a block ended by the thread's exit (its switch-in
  // lost) nothing past the switch-out is known.
  python.off_until = interval.exited ? interval.block_start
                     : interval.ended ? interval.to
                                      : std::min(interval.to, applied_until_);
  slot.charged = true;
  host_.add_off_cpu(interval.pid, interval.tid, slot.frames, kNone, counts, python);
}

void OffCpuStacks::release(uint32_t stack) {
  if (stack >= slots_.size() || !slots_[stack].in_use) return;
  Slot& slot = slots_[stack];
  counters_.pending_bytes -= slot.record.size();
  slot.record.clear();
  if (slot.record.capacity() > (64u << 10)) slot.record.shrink_to_fit();
  slot.frames.clear();
  slot.python.reset();
  slot.in_use = false;
  free_slots_.push_back(stack);
}

OffCpuCounters OffCpuStacks::counters() const {
  OffCpuCounters c = counters_;
  c.switches = tracker_.stats();
  return c;
}

}  // namespace ember::collector
