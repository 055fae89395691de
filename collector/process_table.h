#pragma once
// The collector's view of the processes it samples: per pid, the threads (with their names)
// and the executable memory maps, each map pointing at a shared module. Built from /proc at
// attach and kept current by MMAP2, COMM, FORK and EXIT records applied in time order.
//
// Address resolution (ProcessAddress -> module + offset) lives here so that every unwinder
// (frame pointers today, DWARF later) resolves addresses the same way.
//
// The table is bounded (max_processes): past the bound the least recently sampled process is
// evicted; it is read again from /proc if it is sampled later.

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/module_cache.h"
#include "collector/process_info.h"
#include "collector/procfs.h"
#include "collector/record_decoder.h"
#include "common/lru_cache.h"
#include "common/types.h"
#include "profile/raw_profile.h"

namespace ember::collector {

// One executable mapping of a process.
struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t page_offset = 0;
  std::shared_ptr<const profile::Module> module;

  bool contains(common::ProcessAddress a) const { return a.value() >= start && a.value() < end; }
  // The frame offset the RawProfile wants: the file offset for files and the vDSO, the
  // absolute address for the kernel and JIT code.
  uint64_t frame_offset(common::ProcessAddress a) const {
    if (module->kind == profile::MappingKind::kFile || module->kind == profile::MappingKind::kVdso) {
      return a.value() - start + page_offset;
    }
    return a.value();
  }

  // The module's id in the profile window being filled (a cache owned by the Recorder, so a
  // frame costs no hash lookup): valid while window_generation matches.
  mutable uint64_t window_generation = 0;
  mutable profile::ModuleId window_module;
};

struct Thread {
  std::string comm;
  mutable uint64_t window_generation = 0;  // cache of comm's StringId in the current window
  mutable profile::StringId window_comm;
};

class Process {
 public:
  int32_t pid() const { return pid_; }
  const std::string& comm() const { return comm_; }
  const std::string& exe() const { return exe_; }
  // false when the process filter rejected it: its samples are not recorded.
  bool recorded() const { return recorded_; }
  // true when neither /proc nor any record told us about it (it had exited when first seen).
  bool unknown() const { return unknown_; }
  const std::vector<Mapping>& mappings() const { return maps_; }
  const Mapping* find_mapping(common::ProcessAddress address) const;
  // The module of the process's executable, once known.
  const std::shared_ptr<const profile::Module>& main_module() const { return main_module_; }
  size_t thread_count() const { return threads_.size(); }
  const Thread* find_thread(int32_t tid) const;
  // Changes whenever the mappings change (and differs between any two Process entries that ever
  // existed): a DWARF unwinder keys its per-process caches on it.
  uint64_t maps_generation() const { return maps_generation_; }

  mutable uint64_t window_generation = 0;  // cache of comm's StringId in the current window
  mutable profile::StringId window_comm;
  mutable profile::StringId window_service;

 private:
  friend class ProcessTable;
  void add_mapping(Mapping m);
  void maps_changed();

  int32_t pid_ = 0;
  std::string comm_;
  std::string exe_;
  std::optional<std::string> service_;  // read from /proc at the first sample (ProcessTable::service)
  bool recorded_ = true;
  bool unknown_ = false;
  bool awaiting_main_module_ = false;  // exec'd: the next file mapping is the executable
  bool exited_ = false;                // its main thread's exit record was applied (kept a while)
  std::vector<Mapping> maps_;  // sorted by start, never overlapping
  uint64_t maps_generation_ = 0;
  std::unordered_map<int32_t, Thread> threads_;
  std::shared_ptr<const profile::Module> jit_;
  std::shared_ptr<const profile::Module> main_module_;
};

struct ProcessTableStats {
  uint64_t loaded_from_proc = 0;
  uint64_t evicted = 0;
  uint64_t exited = 0;
};

class ProcessTable {
 public:
  using Filter = std::function<bool(const ProcessInfo&)>;

  ProcessTable(ProcFs procfs, ModuleCache& modules, size_t max_processes, Filter filter = {});

  // Processes kept after their main thread's exit record, at most (see on_exit).
  static constexpr size_t kKeptAfterExit = 64;

  // Records, applied in time order.
  void on_mmap(const MmapRecord& r);
  void on_comm(const CommRecord& r);
  void on_fork(const TaskRecord& r);
  void on_exit(const TaskRecord& r);

  // Reads the process from /proc (comm, exe, maps), replacing what the table had. Returns
  // nullptr when it does not exist.
  Process* load(int32_t pid);
  // The process for a sample: from the table, else read from /proc once. A process that is
  // gone from /proc gets an `unknown` entry, so /proc is not asked again for each sample.
  Process& get(int32_t pid);
  Process* find(int32_t pid);
  // The sampled thread; its name is read from /proc the first time the tid is seen.
  const Thread& thread(Process& process, int32_t tid);
  // The process's systemd service (systemd_service of its cgroup), read from /proc once;
  // empty when it has none or is gone.
  const std::string& service(Process& process);

  size_t size() const { return processes_.size(); }
  const ProcessTableStats& stats() const { return stats_; }
  const ProcFs& procfs() const { return procfs_; }

 private:
  Process& insert(int32_t pid);  // a new empty entry (evicting when full), most recent
  void erase(int32_t pid);
  void evaluate_filter(Process& p);
  void load_maps(Process& p, const std::vector<MapsEntry>& maps);
  void add_file_mapping(Process& p, const MappingSource& source);
  const std::shared_ptr<const profile::Module>& jit_module(Process& p);

  ProcFs procfs_;
  ModuleCache& modules_;
  size_t max_processes_;
  Filter filter_;
  common::LruCache<int32_t, Process> processes_;
  // Processes whose main thread exited, oldest first: kept for the samples that come after the
  // exit record (see on_exit), the oldest dropped past kKeptAfterExit.
  std::deque<int32_t> exited_;
  ProcessTableStats stats_;
};

}  // namespace ember::collector
