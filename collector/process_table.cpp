#include "collector/process_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

namespace ember::collector {

namespace {
// Threads whose EXIT was lost would otherwise accumulate; past this the names are re-read.
constexpr size_t kMaxThreadsPerProcess = 1u << 16;
constexpr uint32_t kProtExec = 0x4;  // PROT_EXEC
}  // namespace

std::string_view ProcessInfo::cgroup() const {
  if (!cgroup_cache) {
    std::optional<std::string> text = procfs != nullptr ? procfs->cgroup(pid) : std::nullopt;
    cgroup_cache = text.value_or(std::string());
  }
  return *cgroup_cache;
}

const Mapping* Process::find_mapping(common::ProcessAddress address) const {
  auto it = std::upper_bound(maps_.begin(), maps_.end(), address.value(),
                             [](uint64_t a, const Mapping& m) { return a < m.start; });
  if (it == maps_.begin()) return nullptr;
  --it;
  return it->contains(address) ? &*it : nullptr;
}

const Thread* Process::find_thread(int32_t tid) const {
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : &it->second;
}

void Process::maps_changed() {
  // Global, so that a pid reused by a new process never repeats an old generation.
  static std::atomic<uint64_t> next{1};
  maps_generation_ = next.fetch_add(1, std::memory_order_relaxed);
}

void Process::add_mapping(Mapping m) {
  if (m.end <= m.start) return;
  maps_changed();
  // A new mapping replaces whatever it overlaps (mmap over an old range replaces it); the parts
  // of old mappings outside the new range survive, with their file offsets adjusted.
  auto first = std::upper_bound(maps_.begin(), maps_.end(), m.start,
                                [](uint64_t a, const Mapping& x) { return a < x.end; });
  auto last = first;
  std::optional<Mapping> left;
  std::optional<Mapping> right;
  for (; last != maps_.end() && last->start < m.end; ++last) {
    if (last->start < m.start) {
      left = *last;
      left->end = m.start;
    }
    if (last->end > m.end) {
      right = *last;
      right->start = m.end;
      right->page_offset = last->page_offset + (m.end - last->start);
    }
  }
  auto at = maps_.erase(first, last);
  if (left) at = maps_.insert(at, std::move(*left)) + 1;
  at = maps_.insert(at, std::move(m)) + 1;
  if (right) maps_.insert(at, std::move(*right));
}

ProcessTable::ProcessTable(ProcFs procfs, ModuleCache& modules, size_t max_processes, Filter filter)
    : procfs_(std::move(procfs)),
      modules_(modules),
      max_processes_(std::max<size_t>(max_processes, 1)),
      filter_(std::move(filter)) {}

Process* ProcessTable::find(int32_t pid) { return processes_.find(pid); }

Process& ProcessTable::insert(int32_t pid) {
  processes_.erase(pid);
  while (processes_.size() >= max_processes_ && processes_.evict_oldest()) stats_.evicted++;
  Process& p = processes_.emplace(pid);
  p.pid_ = pid;
  p.maps_changed();
  return p;
}

void ProcessTable::erase(int32_t pid) { processes_.erase(pid); }

void ProcessTable::evaluate_filter(Process& p) {
  if (!filter_) {
    p.recorded_ = true;
    return;
  }
  ProcessInfo info;
  info.pid = p.pid_;
  info.comm = p.comm_;
  info.exe = p.exe_;
  info.procfs = &procfs_;
  p.recorded_ = filter_(info);
}

const std::shared_ptr<const profile::Module>& ProcessTable::jit_module(Process& p) {
  if (!p.jit_) p.jit_ = modules_.jit(p.pid_);
  return p.jit_;
}

void ProcessTable::add_file_mapping(Process& p, const MappingSource& source) {
  Mapping m;
  m.start = source.start;
  m.end = source.end;
  m.page_offset = source.page_offset;
  switch (classify_mapping(source.path)) {
    case MappingClass::kFile: m.module = modules_.file(source); break;
    case MappingClass::kVdso: m.module = modules_.vdso(p.pid_); break;
    case MappingClass::kAnonymous: m.module = jit_module(p); break;
    case MappingClass::kIgnored: return;
  }
  if (m.module->kind == profile::MappingKind::kFile && p.awaiting_main_module_) {
    // The kernel maps the executable before the dynamic loader: the first file after exec.
    p.main_module_ = m.module;
    p.awaiting_main_module_ = false;
  }
  p.add_mapping(std::move(m));
}

void ProcessTable::load_maps(Process& p, const std::vector<MapsEntry>& maps) {
  for (const MapsEntry& e : maps) {
    if (!e.executable) continue;  // only code can hold a sampled address
    MappingSource s;
    s.pid = p.pid_;
    s.start = e.start;
    s.end = e.end;
    s.page_offset = e.page_offset;
    s.path = e.path;
    s.deleted = e.deleted;
    s.major = e.major;
    s.minor = e.minor;
    s.inode = e.inode;
    add_file_mapping(p, s);
    if (!p.main_module_ && !p.exe_.empty() && e.path == p.exe_ && !p.maps_.empty()) {
      if (const Mapping* m = p.find_mapping(common::ProcessAddress(e.start))) {
        if (m->module->kind == profile::MappingKind::kFile) p.main_module_ = m->module;
      }
    }
  }
}

Process* ProcessTable::load(int32_t pid) {
  auto comm = procfs_.comm(pid);
  if (!comm) return nullptr;
  Process& p = insert(pid);
  p.comm_ = std::move(*comm);
  p.exe_ = procfs_.exe(pid).value_or(std::string());
  evaluate_filter(p);
  stats_.loaded_from_proc++;
  if (p.recorded_) {
    // Samples of processes the filter rejects are dropped: do not open their files.
    if (auto maps = procfs_.maps(pid)) load_maps(p, *maps);
  }
  return &p;
}

Process& ProcessTable::get(int32_t pid) {
  if (Process* p = find(pid)) return *p;
  if (pid == 0) {
    // The idle task of every CPU: kernel frames only, named as perf names it.
    Process& p = insert(0);
    p.comm_ = "swapper";
    evaluate_filter(p);
    return p;
  }
  if (Process* p = load(pid)) return *p;
  Process& p = insert(pid);
  p.unknown_ = true;
  p.comm_ = fmt::format(":{}", pid);  // perf's name for a process it knows nothing about
  evaluate_filter(p);
  return p;
}

const Thread& ProcessTable::thread(Process& p, int32_t tid) {
  if (auto it = p.threads_.find(tid); it != p.threads_.end()) return it->second;
  if (p.threads_.size() >= kMaxThreadsPerProcess) p.threads_.clear();
  Thread t;
  if (tid == p.pid_) {
    t.comm = p.comm_;
  } else {
    t.comm = p.unknown_ ? p.comm_ : procfs_.thread_comm(p.pid_, tid).value_or(p.comm_);
  }
  return p.threads_.emplace(tid, std::move(t)).first->second;
}

const std::string& ProcessTable::service(Process& p) {
  if (!p.service_) {
    std::optional<std::string> cgroup = p.unknown_ || p.pid_ <= 0 ? std::nullopt : procfs_.systemd_cgroup(p.pid_);
    p.service_ = cgroup ? systemd_service(*cgroup) : std::string();
  }
  return *p.service_;
}

void ProcessTable::on_mmap(const MmapRecord& r) {
  // Without prot (old MMAP records) the kernel only reports executable mappings.
  if (r.is_mmap2 && (r.prot & kProtExec) == 0) return;
  if (r.pid <= 0 || r.length == 0) return;  // pid -1: kernel modules; the kernel module covers them
  Process& p = get(r.pid);
  if (!p.recorded_) return;
  MappingSource s;
  s.pid = r.pid;
  s.start = r.start;
  s.end = r.start + r.length;
  s.page_offset = r.page_offset;
  s.path = r.filename;
  constexpr std::string_view kDeleted = " (deleted)";
  if (s.path.ends_with(kDeleted)) {
    s.path.remove_suffix(kDeleted.size());
    s.deleted = true;
  }
  if (r.has_build_id) {
    s.build_id = r.build_id;
  } else {
    s.major = r.major;
    s.minor = r.minor;
    s.inode = r.inode;
  }
  add_file_mapping(p, s);
}

void ProcessTable::on_comm(const CommRecord& r) {
  if (r.pid <= 0) return;
  if (r.exec) {
    // exec replaces the whole image: old maps, old threads, old JIT code are gone. The new
    // image's MMAP2 records follow this one.
    Process* existing = find(r.pid);
    Process& p = existing != nullptr ? *existing : insert(r.pid);
    p.unknown_ = false;
    p.exited_ = false;  // a thread other than the main one exec'd: the old main thread's exit is no end
    p.maps_.clear();
    p.maps_changed();
    p.threads_.clear();
    p.jit_.reset();
    p.main_module_.reset();
    p.awaiting_main_module_ = true;
    p.comm_ = std::string(r.comm);
    p.window_generation = 0;
    p.exe_ = procfs_.exe(r.pid).value_or(std::string());
    evaluate_filter(p);
    return;
  }
  Process& p = get(r.pid);
  if (r.tid == r.pid) p.comm_ = std::string(r.comm);
  p.threads_[r.tid].comm = std::string(r.comm);
  p.threads_[r.tid].window_generation = 0;
  if (r.tid == r.pid) p.window_generation = 0;
}

void ProcessTable::on_fork(const TaskRecord& r) {
  if (r.pid <= 0) return;
  if (r.pid == r.ppid) {
    // A new thread: it starts with its creator's name.
    Process& p = get(r.pid);
    if (p.unknown_) return;
    std::string comm = p.comm_;
    if (auto it = p.threads_.find(r.ptid); it != p.threads_.end()) comm = it->second.comm;
    if (p.threads_.size() >= kMaxThreadsPerProcess) p.threads_.clear();
    p.threads_[r.tid] = Thread{std::move(comm)};
    return;
  }
  // A new process: a copy of its parent's address space and name. Its PID may be that of a
  // process kept after its exit: that one is gone.
  if (Process* old = processes_.peek(r.pid); old != nullptr && old->exited_) erase(r.pid);
  Process* parent = find(r.ppid);
  if (parent == nullptr || parent->unknown_) {
    get(r.pid);
    return;
  }
  // Copy before insert(): inserting may evict the parent.
  std::string comm = parent->comm_;
  std::string exe = parent->exe_;
  std::optional<std::string> service = parent->service_;  // a child starts in its parent's cgroup
  bool recorded = parent->recorded_;
  std::vector<Mapping> maps = parent->maps_;
  std::shared_ptr<const profile::Module> parent_jit = parent->jit_;
  std::shared_ptr<const profile::Module> main_module = parent->main_module_;
  std::string thread_comm = comm;
  if (const Thread* t = parent->find_thread(r.ptid)) thread_comm = t->comm;

  Process& child = insert(r.pid);
  child.comm_ = std::move(comm);
  child.exe_ = std::move(exe);
  child.service_ = std::move(service);
  child.recorded_ = recorded;
  child.main_module_ = std::move(main_module);
  child.maps_ = std::move(maps);
  child.maps_changed();
  for (Mapping& m : child.maps_) {
    m.window_generation = 0;
    // JIT code is described by /tmp/perf-PID.map of the process that runs it.
    if (parent_jit && m.module == parent_jit) m.module = jit_module(child);
  }
  child.threads_[r.tid] = Thread{std::move(thread_comm)};
}

void ProcessTable::on_exit(const TaskRecord& r) {
  if (r.pid <= 0) return;
  if (r.tid == r.pid) {
    // The process is over when its main thread exits, in the usual case, but samples of it can
    // still come: per-CPU events sample a thread's last moments after its exit record (the
    // kernel writes it before it frees the address space), and other threads may outlive the
    // main one. So it is kept, with its maps and name, until kKeptAfterExit more processes have
    // exited, or its PID is reused (a fork record replaces the entry), or it goes on (an exec
    // by another thread, which the kernel reports as the main thread's exit).
    if (Process* p = processes_.peek(r.pid); p != nullptr && !p->exited_) {
      p->exited_ = true;
      exited_.push_back(r.pid);
      while (exited_.size() > kKeptAfterExit) {
        const int32_t oldest = exited_.front();
        exited_.pop_front();
        if (Process* q = processes_.peek(oldest); q != nullptr && q->exited_) erase(oldest);
      }
    }
    stats_.exited++;
    return;
  }
  if (Process* p = processes_.peek(r.pid)) p->threads_.erase(r.tid);
}

}  // namespace ember::collector
