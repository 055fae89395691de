#include "collector/python_stacks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "collector/process_table.h"
#include "collector/python_kernel_records.h"
#include "collector/python_targets.h"
#include "profile/string_table.h"
#include "python/kernel_reader.h"
#include "python/process_reader.h"

namespace ember::collector {

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// What the merge needs of one attached interpreter; shared with the reads waiting for their
// sample, which may be applied after the reader itself is gone (exit, exec, eviction).
struct EvalModule {
  std::string path;
  uint64_t inode = 0;
  uint64_t device = 0;
  std::vector<python::OffsetRange> ranges;
  // The module of the eval binary in the process's mappings, found again when they change.
  mutable const profile::Module* module = nullptr;
  mutable int32_t pid = 0;
  mutable uint64_t maps_generation = 0;

  const profile::Module* find(const Process& process) const {
    if (pid == process.pid() && maps_generation == process.maps_generation()) return module;
    module = nullptr;
    for (const Mapping& m : process.mappings()) {
      if (!m.module || m.module->kind != profile::MappingKind::kFile) continue;
      if ((m.module->inode == inode && m.module->device == device) || m.module->path == path) {
        module = m.module.get();
        break;
      }
    }
    pid = process.pid();
    maps_generation = process.maps_generation();
    return module;
  }
  bool in_loop(uint64_t offset) const {
    for (const python::OffsetRange& r : ranges) {
      if (offset >= r.begin && offset < r.end) return true;
    }
    return false;
  }
};

// Python frames interned by the collector between their read and their sample's merge: ids are
// small and stable, and a frame seen before costs a pointer-keyed lookup. When full, a new table
// starts; reads still waiting keep the old one alive.
class FrameTable {
 public:
  struct Frame {
    profile::StringId function, file;
    int32_t line = 0, first_line = 0;
  };

  explicit FrameTable(size_t max_frames) : max_frames_(max_frames) {}
  bool full() const { return frames_.size() >= max_frames_; }
  const Frame& frame(uint32_t id) const { return frames_[id]; }
  std::string_view str(profile::StringId id) const { return strings_.get(id); }

  // The id of the frame; UINT32_MAX when the table is full.
  uint32_t intern(const python::Frame& f) {
    // The reader hands out views into its own caches: the same code object gives the same
    // pointers sample after sample. The direct-mapped slot is keyed by them and confirmed by
    // content, so a reused pointer can never give a wrong name.
    const uint64_t key = reinterpret_cast<uintptr_t>(f.function.data()) * 0x9e3779b97f4a7c15ull ^
                         reinterpret_cast<uintptr_t>(f.file.data()) * 0xbf58476d1ce4e5b9ull ^
                         (uint64_t{static_cast<uint32_t>(f.line)} << 20) ^ static_cast<uint32_t>(f.first_line);
    Slot& slot = slots_[(key ^ (key >> 29)) & (kSlots - 1)];
    if (slot.id != UINT32_MAX && slot.function == f.function.data() && slot.file == f.file.data()) {
      const Frame& known = frames_[slot.id];
      if (known.line == f.line && known.first_line == f.first_line && str(known.function) == f.function &&
          str(known.file) == f.file) {
        return slot.id;
      }
    }
    // The same function at another line (a leaf moves as it runs): its names are interned
    // already, found through the per-function slot without hashing the strings again.
    Slot& names = name_slots_[(reinterpret_cast<uintptr_t>(f.function.data()) * 0x9e3779b97f4a7c15ull ^
                               reinterpret_cast<uintptr_t>(f.file.data())) >> 52];
    Frame frame;
    if (names.id != UINT32_MAX && names.function == f.function.data() && names.file == f.file.data() &&
        str(frames_[names.id].function) == f.function && str(frames_[names.id].file) == f.file) {
      frame = Frame{frames_[names.id].function, frames_[names.id].file, f.line, f.first_line};
    } else {
      frame = Frame{strings_.intern(f.function), strings_.intern(f.file), f.line, f.first_line};
    }
    const Key k{frame.function.value, frame.file.value, frame.line, frame.first_line};
    uint32_t id;
    if (auto it = index_.find(k); it != index_.end()) {
      id = it->second;
    } else {
      if (full()) return UINT32_MAX;
      id = static_cast<uint32_t>(frames_.size());
      frames_.push_back(frame);
      index_.emplace(k, id);
    }
    slot = Slot{f.function.data(), f.file.data(), id};
    names = slot;
    return id;
  }

  // The frame's index in the window being filled (UINT32_MAX when the window's table is full).
  uint32_t window_id(uint32_t id, profile::RawProfile& window, uint64_t generation) {
    if (window_generation_ != generation) {
      window_generation_ = generation;
      window_ids_.assign(frames_.size(), kUnset);
    }
    if (window_ids_.size() <= id) window_ids_.resize(frames_.size(), kUnset);
    uint32_t& slot = window_ids_[id];
    if (slot == kUnset) {
      const Frame& f = frames_[id];
      slot = window.add_python_frame(str(f.function), str(f.file), f.line, f.first_line).value_or(UINT32_MAX);
    }
    return slot;
  }

 private:
  static constexpr size_t kSlots = 4096;
  static constexpr uint32_t kUnset = UINT32_MAX - 1;
  struct Slot {
    const char* function = nullptr;
    const char* file = nullptr;
    uint32_t id = UINT32_MAX;
  };
  struct Key {
    uint32_t function, file;
    int32_t line, first_line;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      uint64_t h = (uint64_t{k.function} << 32 | k.file) * 0x9e3779b97f4a7c15ull;
      h ^= (uint64_t{static_cast<uint32_t>(k.line)} << 32 | static_cast<uint32_t>(k.first_line)) *
           0xbf58476d1ce4e5b9ull;
      return static_cast<size_t>(h ^ (h >> 31));
    }
  };

  size_t max_frames_;
  profile::StringTable strings_;
  std::vector<Frame> frames_;
  std::unordered_map<Key, uint32_t, KeyHash> index_;
  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
  std::vector<Slot> name_slots_ = std::vector<Slot>(kSlots);
  uint64_t window_generation_ = 0;
  std::vector<uint32_t> window_ids_;
};

struct PendingKey {
  int32_t tid = 0;
  uint64_t time = 0;
  bool operator==(const PendingKey&) const = default;
};
struct PendingKeyHash {
  size_t operator()(const PendingKey& k) const noexcept {
    return static_cast<size_t>((k.time ^ (uint64_t{static_cast<uint32_t>(k.tid)} << 40)) * 0x9e3779b97f4a7c15ull);
  }
};

struct PendingFrame {
  uint32_t id = 0;
  bool entry = false;
};

}  // namespace

// A Python stack read for a sample that has not been applied yet (or, for a switch-out, for an
// off-CPU block not charged yet).
class PythonRead {
 public:
  python::ReadStatus status = python::ReadStatus::kOk;
  std::shared_ptr<const EvalModule> eval;
  std::shared_ptr<FrameTable> table;
  std::vector<PendingFrame> frames;  // leaf first
  uint64_t read_end = 0;             // CLOCK_MONOTONIC ns when the read was done
};

namespace {

using Pending = PythonRead;

// What became of a read when its sample was merged.
enum class Applied : uint8_t { kNoPythonThread, kReadMissed, kWindowFull, kMerged };

}  // namespace

std::shared_ptr<const profile::Module> python_module() {
  auto m = std::make_shared<profile::Module>();
  m->kind = profile::MappingKind::kPython;
  m->path = std::string(profile::kPythonMappingName);
  return m;
}

class PythonStacks::Impl {
 public:
  explicit Impl(const PythonOptions& options)
      : options_(options), table_(std::make_shared<FrameTable>(options.max_interned_frames)) {}

  void start_kernel_reads(std::shared_ptr<python::KernelReader> program) { kernel_ = std::move(program); }
  bool kernel_reads() const { return kernel_ != nullptr; }
  void stop_kernel_reads();
  // What a read reads from: the kernel's record (given, or looked up by the sample's `ip` when
  // set), else user space.
  struct Source {
    std::optional<uint64_t> ip;  // with the sample's CPU
    uint32_t cpu = 0;
    const ember_py_stack* kernel = nullptr;
  };
  // Returns whether the stack was read (a read waits for its sample).
  bool on_sample_read(int32_t pid, int32_t tid, uint64_t time, Source source);
  void on_switch_out_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip);
  void on_thread_exit(int32_t pid, int32_t tid);
  PythonReadPtr take(int32_t tid, uint64_t time);
  // exec_time: for an exec, its time (0 unknown): verdicts made from later samples are kept.
  void forget(int32_t pid, bool keep_reader, uint64_t exec_time = 0);
  void merge(const collector::Process& process, int32_t tid, uint64_t time, bool native_complete,
             profile::RawProfile& window, uint64_t generation, profile::ModuleId python_module,
             std::vector<profile::RawFrame>& frames);
  void merge_off_cpu(const collector::Process& process, const PythonRead& read, uint64_t off_until,
                     bool first_charge, bool native_complete, profile::RawProfile& window,
                     uint64_t generation, profile::ModuleId python_module,
                     std::vector<profile::RawFrame>& frames);
  void expire(uint64_t time);
  void add_stats(CollectorStats& s) const;

  const PythonOptions options_;

 private:
  // kStarting: an interpreter sampled before it set up its main thread, attached again at a later
  // sample (at most kMaxStartingAttempts times).
  enum class State : uint8_t { kReader, kNoPython, kCannotRead, kStarting };
  static constexpr uint32_t kMaxStartingAttempts = 200;
  struct Attached {
    State state = State::kNoPython;
    std::unique_ptr<python::ProcessReader> reader;
    bool in_kernel = false;              // registered with the kernel-side reader
    std::unordered_map<int32_t, uint64_t> kernel_threads;  // its threads registered there: TID → thread state
    std::shared_ptr<const EvalModule> eval;
    uint64_t last_used = 0;
    uint32_t attempts = 0;
    uint64_t decided_at = 0;  // the time of the sample that made the verdict (or the reader)
  };

  Attached* attach(int32_t pid, uint64_t time);
  void retire(Attached& p);
  // The stack of a sample: the kernel's read of it when there is one, else from user space;
  // `read_at` is when (CLOCK_MONOTONIC).
  python::ReadStatus read(Attached& p, int32_t tid, uint64_t time, Source source, uint64_t& read_at);
  // The kernel's record of the sample, draining the ring when it is not queued yet (the kernel
  // writes it before the sample); nullptr when there is none. A record that says the kernel did
  // not know the thread makes it registered again after the user-space read.
  const ember_py_stack* kernel_stack(Attached& p, int32_t tid, uint32_t cpu, uint64_t time, uint64_t ip);
  void register_threads(Attached& p);
  void warn(const std::string& message);
  std::vector<PendingFrame> spare_vector();
  // The read's frames in place of the eval-loop frames of `frames` (when kMerged: `result`).
  Applied apply(const collector::Process& process, const PythonRead& read, bool native_complete,
                profile::RawProfile& window, uint64_t generation, profile::ModuleId python_module,
                std::vector<profile::RawFrame>& frames, MergeResult& result);

  std::shared_ptr<python::KernelReader> kernel_;
  KernelRecordQueue kernel_records_;  // drained, not yet matched with their sample
  std::vector<std::pair<int32_t, uint64_t>> thread_states_;
  std::unordered_map<int32_t, Attached> processes_;
  size_t readers_ = 0;
  uint64_t clock_ = 0;
  std::shared_ptr<FrameTable> table_;
  std::unordered_map<PendingKey, Pending, PendingKeyHash> pending_;
  std::deque<PendingKey> pending_order_;  // read order: roughly time order
  std::vector<std::vector<PendingFrame>> spare_;
  std::vector<python::Frame> read_;
  std::vector<PythonMergeFrame> python_frames_;
  std::vector<NativeRole> roles_;
  std::vector<profile::RawFrame> merged_;
  python::ReaderStats retired_;  // of readers already dropped
  size_t warnings_ = 0;
  static constexpr size_t kMaxWarned = 4096;
  std::unordered_set<std::string> warned_;  // attach errors already said (they name the pid)
  CollectorStats stats_;  // its python_* fields
  // Budget of switch-out reads (kOffCpuPythonReadsPerSecond), refilled by the samples' times.
  double off_cpu_tokens_ = kOffCpuPythonReadsPerSecond;
  uint64_t off_cpu_tokens_time_ = 0;
};

void PythonStacks::Impl::warn(const std::string& message) {
  if (warnings_ < options_.max_warnings) {
    spdlog::warn("{}; its stacks are shown without Python frames", message);
  } else if (warnings_ == options_.max_warnings) {
    spdlog::warn("more Python interpreters that cannot be read: counted, not shown");
  }
  ++warnings_;
}

void PythonStacks::Impl::stop_kernel_reads() {
  // The program stays attached to the events opened so far: with no process registered it
  // reads nothing.
  for (auto& [pid, p] : processes_) {
    if (p.in_kernel) kernel_->remove_process(pid);
    p.in_kernel = false;
    p.kernel_threads.clear();
  }
  kernel_.reset();
  kernel_records_.expire(UINT64_MAX);
}

const ember_py_stack* PythonStacks::Impl::kernel_stack(Attached& p, int32_t tid, uint32_t cpu, uint64_t time,
                                                     uint64_t ip) {
  const ember_py_stack* k = kernel_records_.take(tid, cpu, time, ip);
  if (!k) {
    kernel_->drain([](void* queue, const ember_py_stack& r) { static_cast<KernelRecordQueue*>(queue)->push(r); },
                   &kernel_records_);
    k = kernel_records_.take(tid, cpu, time, ip);
  }
  // Not (or no longer) in the kernel's map of threads (evicted, or its thread state moved).
  if (k && k->status == EMBER_PY_UNKNOWN_THREAD) p.kernel_threads.erase(tid);
  return k;
}

void PythonStacks::Impl::register_threads(Attached& p) {
  p.reader->thread_states(thread_states_);
  for (const auto& [tid, tstate] : thread_states_) {
    auto [it, added] = p.kernel_threads.try_emplace(tid, tstate);
    if (!added && it->second == tstate) continue;  // known, and still the same thread state
    it->second = tstate;
    kernel_->add_thread(tid, tstate);
  }
}

python::ReadStatus PythonStacks::Impl::read(Attached& p, int32_t tid, uint64_t time, Source source,
                                             uint64_t& read_at) {
  const ember_py_stack* k = source.kernel;
  if (!k && p.in_kernel && source.ip) {
    k = kernel_stack(p, tid, source.cpu, time, *source.ip);
    if (k && k->status != EMBER_PY_OK) k = nullptr;
    if (!k) stats_.python_kernel_fallbacks++;
  }
  if (k) {
    stats_.python_kernel_reads++;
    read_at = k->time;
    return p.reader->name_kernel_stack(*k, read_);
  }
  python::ReadStatus status = p.reader->read_stack(tid, read_);
  read_at = monotonic_ns();
  // A thread met for the first time (or whose state moved): the kernel reads it from now on.
  if (p.in_kernel) register_threads(p);
  return status;
}

void PythonStacks::Impl::retire(Attached& p) {
  if (p.in_kernel && kernel_) {
    kernel_->remove_process(p.reader->pid());
    for (const auto& [tid, tstate] : p.kernel_threads) kernel_->remove_thread(tid);
    p.in_kernel = false;
    p.kernel_threads.clear();
  }
  if (p.reader) {
    retired_ += p.reader->stats();
    p.reader.reset();
    --readers_;
  }
}

PythonStacks::Impl::Attached* PythonStacks::Impl::attach(int32_t pid, uint64_t time) {
  if (processes_.size() >= options_.max_processes) {
    // Verdicts are cheap to find again; readers stay.
    std::erase_if(processes_, [](const auto& kv) { return kv.second.state != State::kReader; });
  }
  Attached& p = processes_[pid];
  p.decided_at = time;
  auto reader = python::ProcessReader::attach(pid);
  if (!reader) {
    const Error& e = reader.error();
    if (e.code() == ErrorCode::kNotFound) {
      p.state = State::kNoPython;
    } else if (e.code() == ErrorCode::kInterrupted && ++p.attempts < kMaxStartingAttempts) {
      p.state = State::kStarting;
    } else {
      p.state = State::kCannotRead;
      // A process is looked at again after its exec record is applied, which can come after its
      // first samples were read: the same verdict is said and counted once.
      if (warned_.size() >= kMaxWarned) warned_.clear();
      if (warned_.insert(e.message()).second) {
        (e.code() == ErrorCode::kUnsupported ? stats_.python_unsupported : stats_.python_attach_failed)++;
        warn(e.message());
      }
    }
    return &p;
  }
  if (readers_ >= std::max<size_t>(options_.max_readers, 1)) {
    // The least recently sampled reader goes; its process attaches again when sampled again.
    auto oldest = processes_.end();
    for (auto it = processes_.begin(); it != processes_.end(); ++it) {
      if (it->second.state != State::kReader || it->first == pid) continue;
      if (oldest == processes_.end() || it->second.last_used < oldest->second.last_used) oldest = it;
    }
    if (oldest != processes_.end()) {
      retire(oldest->second);
      processes_.erase(oldest);
      stats_.python_readers_evicted++;
    }
  }
  auto eval = std::make_shared<EvalModule>();
  eval->path = (*reader)->eval_module_path();
  eval->inode = (*reader)->eval_module_inode();
  eval->device = (*reader)->eval_module_device();
  auto ranges = (*reader)->eval_loop_ranges();
  eval->ranges.assign(ranges.begin(), ranges.end());
  p.state = State::kReader;
  p.reader = std::move(*reader);
  if (kernel_) {
    if (auto layout = p.reader->kernel_layout()) {
      kernel_->add_process(pid, *layout);
      p.in_kernel = true;
    }
  }
  p.eval = std::move(eval);
  ++readers_;
  stats_.python_attached++;
  spdlog::debug("pid {}: CPython {}, eval loop in {}", pid, python::to_string(p.reader->version()),
                p.eval->path);
  return &p;
}

std::vector<PendingFrame> PythonStacks::Impl::spare_vector() {
  if (spare_.empty()) return {};
  std::vector<PendingFrame> v = std::move(spare_.back());
  spare_.pop_back();
  v.clear();
  return v;
}

bool PythonStacks::Impl::on_sample_read(int32_t pid, int32_t tid, uint64_t time, Source source) {
  if (pid <= 0) return false;  // the idle task, or a sample without a process
  auto it = processes_.find(pid);
  Attached* p = it != processes_.end() && it->second.state != State::kStarting ? &it->second : attach(pid, time);
  if (p->state != State::kReader) return false;
  p->last_used = ++clock_;
  const PendingKey key{tid, time};
  if (pending_.size() >= options_.max_pending) {
    stats_.python_not_read++;
    return false;
  }
  if (pending_.contains(key)) return false;  // the same sample through a second event (-p)
  const uint64_t start = monotonic_ns();
  Pending pending;
  uint64_t read_at = 0;
  pending.status = read(*p, tid, time, source, read_at);
  pending.eval = p->eval;
  if (pending.status == python::ReadStatus::kOk) {
    if (table_->full()) table_ = std::make_shared<FrameTable>(options_.max_interned_frames);
    pending.frames = spare_vector();
    pending.frames.reserve(read_.size());
    for (const python::Frame& f : read_) {
      uint32_t id = table_->intern(f);
      if (id == UINT32_MAX) {
        // Filled up mid-stack: the next read starts a new table.
        stats_.python_not_read++;
        spare_.push_back(std::move(pending.frames));
        stats_.python_read_ns += monotonic_ns() - start;
        return false;
      }
      pending.frames.push_back(PendingFrame{id, f.entry});
    }
    pending.table = table_;
  }
  pending.read_end = read_at;
  stats_.python_read_ns += monotonic_ns() - start;
  pending_.emplace(key, std::move(pending));
  pending_order_.push_back(key);
  return true;
}

void PythonStacks::Impl::on_thread_exit(int32_t pid, int32_t tid) {
  auto it = processes_.find(pid);
  if (it == processes_.end() || !it->second.in_kernel) return;
  if (it->second.kernel_threads.erase(tid)) kernel_->remove_thread(tid);
}

void PythonStacks::Impl::on_switch_out_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip) {
  if (pid <= 0 || tid <= 0) return;
  auto it = processes_.find(pid);
  const bool known_reader = it != processes_.end() && it->second.state == State::kReader;
  if (it != processes_.end() && !known_reader && it->second.state != State::kStarting) return;  // not Python
  if (off_cpu_tokens_time_ != 0 && time > off_cpu_tokens_time_) {
    off_cpu_tokens_ = std::min(kOffCpuPythonReadsPerSecond,
                               off_cpu_tokens_ + static_cast<double>(time - off_cpu_tokens_time_) * 1e-9 *
                                                     kOffCpuPythonReadsPerSecond);
  }
  off_cpu_tokens_time_ = std::max(off_cpu_tokens_time_, time);
  if (known_reader && it->second.in_kernel) {
    // Read by the kernel at the switch, within its own budget per CPU.
    if (const ember_py_stack* k = kernel_stack(it->second, tid, cpu, time, ip)) {
      if (k->status == EMBER_PY_OVER_BUDGET) {
        stats_.python_off_cpu_over_budget++;
        return;
      }
      if (k->status == EMBER_PY_OK) {
        if (on_sample_read(pid, tid, time, Source{ip, cpu, k})) stats_.python_off_cpu_read++;
        return;
      }
    }
    // A thread the kernel does not know yet, or a switch before the process was registered:
    // user space reads it, within its budget.
    stats_.python_kernel_fallbacks++;
  }
  if (off_cpu_tokens_ < 1) {
    if (known_reader) stats_.python_off_cpu_over_budget++;
    return;
  }
  if (on_sample_read(pid, tid, time, Source{})) {
    off_cpu_tokens_ -= 1;
    stats_.python_off_cpu_read++;
  }
}

PythonReadPtr PythonStacks::Impl::take(int32_t tid, uint64_t time) {
  auto it = pending_.find(PendingKey{tid, time});
  if (it == pending_.end()) return nullptr;
  auto read = std::make_shared<PythonRead>(std::move(it->second));
  pending_.erase(it);
  return read;
}

void PythonStacks::Impl::forget(int32_t pid, bool keep_reader, uint64_t exec_time) {
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  if (keep_reader && it->second.state == State::kReader) return;
  // Records are seen as each CPU's ring is read, so an exec can be seen after samples of the new
  // image taken on another CPU: what those samples found is about the new image already (a
  // launched command is only sampled from its exec on), and attaching again would count it twice.
  if (exec_time != 0 && it->second.decided_at > exec_time) return;
  retire(it->second);
  processes_.erase(it);
}

Applied PythonStacks::Impl::apply(const collector::Process& process, const PythonRead& read,
                                  bool native_complete, profile::RawProfile& window, uint64_t generation,
                                  profile::ModuleId python_module, std::vector<profile::RawFrame>& frames,
                                  MergeResult& result) {
  if (read.status == python::ReadStatus::kNoPythonThread) return Applied::kNoPythonThread;
  if (read.status != python::ReadStatus::kOk) return Applied::kReadMissed;
  python_frames_.clear();
  for (const PendingFrame& f : read.frames) {
    const uint32_t id = read.table->window_id(f.id, window, generation);
    if (id == UINT32_MAX) return Applied::kWindowFull;  // the window's bound on Python frames
    python_frames_.push_back(PythonMergeFrame{profile::RawFrame{python_module, id}, f.entry});
  }
  const profile::Module* eval_module = read.eval->find(process);
  roles_.assign(frames.size(), NativeRole::kOther);
  for (size_t i = 0; i < frames.size(); ++i) {
    const profile::RawFrame& f = frames[i];
    if (!f.module.valid()) continue;
    const profile::Module& m = window.module(f.module);
    if (&m == eval_module) {
      if (read.eval->in_loop(f.offset)) roles_[i] = NativeRole::kEval;
    } else if (m.kind == profile::MappingKind::kJit || m.kind == profile::MappingKind::kAnonymous) {
      roles_[i] = NativeRole::kAnonymousCode;
    }
  }
  result = merge_python_stack(frames, roles_, native_complete, python_frames_, merged_);
  stats_.python_trampolines += result.trampolines;
  frames.swap(merged_);
  return Applied::kMerged;
}

void PythonStacks::Impl::merge(const collector::Process& process, int32_t tid, uint64_t time,
                               bool native_complete, profile::RawProfile& window, uint64_t generation,
                               profile::ModuleId python_module, std::vector<profile::RawFrame>& frames) {
  auto it = pending_.find(PendingKey{tid, time});
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  MergeResult r;
  const Applied applied = apply(process, pending, native_complete, window, generation, python_module, frames, r);
  if (spare_.size() < 64 && pending.frames.capacity() != 0) spare_.push_back(std::move(pending.frames));
  switch (applied) {
    case Applied::kNoPythonThread: stats_.python_not_in_python++; return;
    case Applied::kReadMissed: stats_.python_read_missed++; return;
    case Applied::kWindowFull: stats_.python_not_read++; return;
    case Applied::kMerged: break;
  }
  switch (r.outcome) {
    case MergeOutcome::kMerged: stats_.python_merged++; break;
    case MergeOutcome::kMergedBelowCut: stats_.python_merged_below_cut++; break;
    case MergeOutcome::kFewerPythonSegments: stats_.python_stale_fewer++; break;
    case MergeOutcome::kMorePythonSegments: stats_.python_stale_more++; break;
    case MergeOutcome::kNoEvalFrames: stats_.python_no_eval_frames++; break;
    case MergeOutcome::kNoPythonFrames: stats_.python_not_in_python++; break;
  }
}

void PythonStacks::Impl::merge_off_cpu(const collector::Process& process, const PythonRead& read,
                                       uint64_t off_until, bool first_charge, bool native_complete,
                                       profile::RawProfile& window, uint64_t generation,
                                       profile::ModuleId python_module, std::vector<profile::RawFrame>& frames) {
  // The read ended while the thread was still off CPU: nothing of its Python stack had changed.
  // Otherwise it may have run (and called or returned) before the read: its stack stays native.
  if (read.read_end >= off_until) {
    if (first_charge) stats_.python_off_cpu_ran_again++;
    return;
  }
  MergeResult r;
  const Applied applied = apply(process, read, native_complete, window, generation, python_module, frames, r);
  if (!first_charge) return;
  const bool merged = applied == Applied::kMerged &&
                      (r.outcome == MergeOutcome::kMerged || r.outcome == MergeOutcome::kMergedBelowCut);
  (merged ? stats_.python_off_cpu_merged : stats_.python_off_cpu_unmerged)++;
}

void PythonStacks::Impl::expire(uint64_t time) {
  while (!pending_order_.empty() && (time == UINT64_MAX || pending_order_.front().time < time)) {
    auto it = pending_.find(pending_order_.front());
    if (it != pending_.end() && it->first.time < time) {
      if (spare_.size() < 64 && it->second.frames.capacity() != 0) spare_.push_back(std::move(it->second.frames));
      pending_.erase(it);
    }
    pending_order_.pop_front();
  }
  if (time == UINT64_MAX) pending_.clear();
  // Kernel records whose sample would have come by now (a margin: `time` only says that the
  // records applied so far are older, a ring not read yet can hold older samples).
  kernel_records_.expire(time);
  // Keys whose sample was merged stay in the order queue until here; it never outgrows the
  // reads of the reorder window.
}

void PythonStacks::Impl::add_stats(CollectorStats& s) const {
  s += stats_;
  python::ReaderStats r = retired_;
  for (const auto& [pid, p] : processes_) {
    if (p.reader) r += p.reader->stats();
  }
  s.python_readers += readers_;
  s.python_miss_process_gone += r.process_gone;
  s.python_miss_read_failed += r.read_failed;
  s.python_miss_bad_object += r.bad_object;
  s.python_miss_chain_too_long += r.chain_too_long;
  s.python_miss_stack_changed += r.stack_changed;
  s.python_stacks_read += r.stacks_read;
  s.python_frames_read += r.frames_read;
}

// ---------------------------------------------------------------------------------------------

PythonStacks::PythonStacks(const PythonOptions& options) : impl_(std::make_unique<Impl>(options)) {}
PythonStacks::~PythonStacks() = default;

bool PythonStacks::enabled() const { return impl_->options_.enabled; }

void PythonStacks::start_kernel_reads(std::shared_ptr<python::KernelReader> program) {
  impl_->start_kernel_reads(std::move(program));
}
bool PythonStacks::kernel_reads() const { return impl_->kernel_reads(); }
void PythonStacks::stop_kernel_reads() { impl_->stop_kernel_reads(); }

void PythonStacks::on_sample_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip) {
  if (impl_->options_.enabled) impl_->on_sample_read(pid, tid, time, Impl::Source{ip, cpu});
}
void PythonStacks::on_switch_out_read(int32_t pid, int32_t tid, uint64_t time, uint32_t cpu, uint64_t ip) {
  if (impl_->options_.enabled) impl_->on_switch_out_read(pid, tid, time, cpu, ip);
}
PythonReadPtr PythonStacks::take(int32_t tid, uint64_t time) {
  return impl_->options_.enabled ? impl_->take(tid, time) : nullptr;
}
void PythonStacks::merge_off_cpu(const Process& process, const PythonRead& read, uint64_t off_until,
                                 bool first_charge, bool native_complete, profile::RawProfile& window,
                                 uint64_t generation, profile::ModuleId python_module,
                                 std::vector<profile::RawFrame>& frames) {
  impl_->merge_off_cpu(process, read, off_until, first_charge, native_complete, window, generation,
                       python_module, frames);
}
void PythonStacks::on_exec(int32_t pid, uint64_t time) { impl_->forget(pid, false, time); }
void PythonStacks::on_mmap(int32_t pid, std::string_view filename) {
  // A new libpython (an embedding program loading the interpreter) or python executable mapped:
  // a process remembered as "no CPython" may have one now.
  if (may_be_python(filename)) impl_->forget(pid, true);
}
void PythonStacks::on_exit(int32_t pid) { impl_->forget(pid, false); }
void PythonStacks::on_thread_exit(int32_t pid, int32_t tid) {
  if (impl_->options_.enabled) impl_->on_thread_exit(pid, tid);
}

void PythonStacks::merge(const Process& process, int32_t tid, uint64_t time, bool native_complete,
                         profile::RawProfile& window, uint64_t generation, profile::ModuleId python_module,
                         std::vector<profile::RawFrame>& frames) {
  if (impl_->options_.enabled) {
    impl_->merge(process, tid, time, native_complete, window, generation, python_module, frames);
  }
}

void PythonStacks::expire(uint64_t time) { impl_->expire(time); }

void PythonStacks::add_stats(CollectorStats& stats) const { impl_->add_stats(stats); }

}  // namespace ember::collector
