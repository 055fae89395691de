#include "analysis/findings.h"

#include <algorithm>
#include <array>
#include <unordered_map>

#include "common/checked.h"

namespace ember::analysis {

namespace {

enum class Space { kUser, kKernel, kAny };

// One kind of cost. Patterns are comma-separated frame names (the bare name, without a "_[k]"
// suffix); one ending in '*' matches names that start with it, "*" alone every name. `skip`:
// frames that match but say nothing (entry points), passed over when naming the matched frame.
struct Rule {
  std::string_view id;
  std::string_view title;
  Space space;
  std::string_view patterns;
  std::string_view skip;
  std::string_view advice;
};

// The table. A frame may match several rules (memcpy inside malloc is both): each rule is a
// question of its own, and their shares are not meant to add up.
constexpr std::array kRules = {
    Rule{"allocator", "Memory allocation", Space::kUser,
         "malloc,free,calloc,realloc,reallocarray,posix_memalign,aligned_alloc,memalign,valloc,cfree,"
         "_int_malloc,_int_free,_int_realloc,_int_memalign,malloc_consolidate,sysmalloc,tcache_*,"
         "__libc_malloc,__libc_free,__libc_calloc,__libc_realloc,__libc_memalign,operator new*,"
         "operator delete*,je_*,jemalloc*,tc_*,tcmalloc::*,mi_*,_mi_*,PyObject_Malloc,PyObject_Calloc,"
         "PyObject_Realloc,PyObject_Free,_PyObject_Malloc,_PyObject_Calloc,_PyObject_Realloc,"
         "_PyObject_Free,pymalloc_*,PyMem_*,_PyMem_*,runtime.mallocgc*,runtime.newobject,"
         "runtime.makeslice,runtime.growslice",
         "",
         "allocate less in the hot paths (reuse buffers and objects, reserve capacity up front), or try "
         "a faster allocator (jemalloc, mimalloc, tcmalloc)"},
    Rule{"locks", "Lock waits", Space::kAny,
         "pthread_mutex_lock,pthread_mutex_timedlock,pthread_rwlock_rdlock,pthread_rwlock_wrlock,"
         "pthread_cond_wait,pthread_cond_timedwait,pthread_cond_clockwait,pthread_spin_lock,"
         "__pthread_mutex_lock*,___pthread_mutex_lock,__pthread_rwlock_*,__pthread_cond_wait*,"
         "___pthread_cond_wait,___pthread_cond_timedwait,__pthread_cond_timedwait*,__lll_lock_wait*,"
         "__futex_abstimed_wait*,futex_wait*,__futex_wait*,sem_wait,sem_timedwait,__new_sem_wait*,"
         "std::mutex::lock,std::__mutex_base::lock,std::condition_variable::wait*,"
         "std::shared_mutex::lock*,take_gil,PyThread_acquire_lock*,PyMutex_Lock,_PyMutex_LockTimed,"
         "_PySemaphore_Wait,runtime.lock*,runtime.semacquire*,runtime.futexsleep,sync.(*Mutex).Lock*,"
         "sync.(*RWMutex).Lock,sync.(*RWMutex).RLock",
         "",
         "hold locks for less time or split them; record with --off-cpu to see the time spent blocked; "
         "Python threads in take_gil wait for the GIL: move CPU-bound work to processes or to C code "
         "that releases it"},
    Rule{"kernel", "System calls and kernel time", Space::kKernel, "*",
         "entry_SYSCALL_64*,do_syscall_64,x64_sys_call,syscall_exit_to_user_mode*,exit_to_user_mode*",
         "make fewer system calls (larger reads and writes, batching, fewer polls); the frames named "
         "say which calls and which faults"},
    Rule{"page_faults", "Page faults", Space::kKernel,
         "asm_exc_page_fault,exc_page_fault,do_user_addr_fault,handle_mm_fault,__handle_mm_fault,"
         "do_page_fault,page_fault",
         "",
         "touch new memory less often: reuse allocations instead of freeing and mapping again, "
         "pre-fault (MAP_POPULATE), or use huge pages"},
    Rule{"copying", "Copying memory", Space::kAny,
         "memcpy,memmove,mempcpy,bcopy,__memcpy*,__memmove*,__mempcpy*,memcpy_erms,memcpy_orig,"
         "__memcpy_chk,__memmove_chk,copy_user_*,copy_to_user*,copy_from_user*,_copy_to_user,"
         "_copy_from_user,rep_movs_alternative,copy_page*,__copy_user*,runtime.memmove",
         "",
         "copy less: pass references or views instead of copies, move instead of copying, and read "
         "straight into the buffer that keeps the data"},
    Rule{"gc", "Garbage collection", Space::kUser,
         "gc_collect_main,gc_collect_region,gc_collect_impl,gc_collect_with_callback,"
         "collect_with_callback,collect_generations,_PyGC_Collect,PyGC_Collect,_Py_RunGC,"
         "runtime.gcBgMarkWorker,runtime.gcDrain*,runtime.gcAssistAlloc*,runtime.markroot*,"
         "runtime.scanobject,runtime.scanstack,runtime.bgsweep,runtime.sweepone,runtime.gcStart",
         "",
         "create fewer short-lived objects; for Python, gc.freeze() after start-up or higher "
         "thresholds (gc.set_threshold); for Go, GOGC or GOMEMLIMIT"},
};
static_assert(kRules.size() <= 8, "rule masks are 8 bits");

constexpr std::string_view kHotFunctionAdvice =
    "the largest single cost: read its lines (ember annotate) and the paths that reach it most "
    "(ember flamegraph --focus)";

bool matches_list(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view pattern = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (!pattern.empty() && pattern.back() == '*') {
      if (name.starts_with(pattern.substr(0, pattern.size() - 1))) return true;
    } else if (name == pattern) {
      return true;
    }
  }
  return false;
}

double share_of(int64_t value, int64_t total) {
  return total == 0 ? 0.0 : static_cast<double>(value) / static_cast<double>(total);
}

std::vector<FindingFrame> top_frames(const std::unordered_map<uint32_t, int64_t>& by_name,
                                     const profile::StringTable& names, int64_t total) {
  std::vector<FindingFrame> out;
  out.reserve(by_name.size());
  for (const auto& [id, value] : by_name) {
    out.push_back(FindingFrame{std::string(names.get(profile::StringId{id})), value, share_of(value, total)});
  }
  std::sort(out.begin(), out.end(), [](const FindingFrame& a, const FindingFrame& b) {
    return a.value != b.value ? a.value > b.value : a.name < b.name;
  });
  if (out.size() > kFindingFrames) out.resize(kFindingFrames);
  // A frame under a twentieth of the first one's value is noise beside it.
  while (out.size() > 1 && out.back().value < out.front().value / 20) out.pop_back();
  return out;
}

// What one rule gathered over the stacks.
struct Tally {
  int64_t value = 0;
  std::unordered_map<uint32_t, int64_t> frames;
  std::unordered_map<uint32_t, int64_t> callers;
};

}  // namespace

std::vector<Finding> find_findings(const FunctionValues& values) {
  const auto& stacks = values.stacks;
  for (const auto& s : stacks.stacks) {
    if (s.value < 0) return {};
  }
  // Which rules each name matches, and which it is an entry frame of: one pass over the names.
  std::vector<uint8_t> match(stacks.names.size(), 0), skip(stacks.names.size(), 0);
  for (uint32_t id = 0; id < stacks.names.size(); ++id) {
    std::string_view bare;
    const profile::MappingKind kind = profile::frame_kind(stacks.names.get(profile::StringId{id}), &bare);
    const bool kernel = kind == profile::MappingKind::kKernel;
    if (kind == profile::MappingKind::kPython) continue;  // Python functions are the user's own
    for (size_t r = 0; r < kRules.size(); ++r) {
      const Rule& rule = kRules[r];
      if ((rule.space == Space::kKernel && !kernel) || (rule.space == Space::kUser && kernel)) continue;
      if (rule.patterns == "*" || matches_list(rule.patterns, bare)) match[id] |= uint8_t(1u << r);
      if (matches_list(rule.skip, bare)) skip[id] |= uint8_t(1u << r);
    }
  }

  std::array<Tally, kRules.size()> tallies;
  for (const auto& s : stacks.stacks) {
    if (s.value == 0) continue;
    for (size_t r = 0; r < kRules.size(); ++r) {
      const uint8_t bit = uint8_t(1u << r);
      size_t first = s.frames.size(), named = s.frames.size();
      for (size_t i = 0; i < s.frames.size(); ++i) {
        const uint32_t id = s.frames[i].value;
        if (!(match[id] & bit)) continue;
        if (first == s.frames.size()) first = i;
        if (!(skip[id] & bit)) {
          named = i;
          break;
        }
      }
      if (first == s.frames.size()) continue;
      if (named == s.frames.size()) named = first;  // only entry frames: name the outermost
      Tally& t = tallies[r];
      t.value = common::saturating_add(t.value, s.value);
      auto& frame = t.frames[s.frames[named].value];
      frame = common::saturating_add(frame, s.value);
      if (first > 0) {
        auto& caller = t.callers[s.frames[first - 1].value];
        caller = common::saturating_add(caller, s.value);
      }
    }
  }

  std::vector<Finding> out;
  for (size_t r = 0; r < kRules.size(); ++r) {
    const Tally& t = tallies[r];
    const double share = share_of(t.value, values.total);
    if (share < kMediumShare) continue;
    Finding f;
    f.id = kRules[r].id;
    f.title = kRules[r].title;
    f.value = t.value;
    f.share = share;
    f.severity = severity_of(share);
    f.frames = top_frames(t.frames, stacks.names, values.total);
    f.callers = top_frames(t.callers, stacks.names, values.total);
    f.advice = kRules[r].advice;
    out.push_back(std::move(f));
  }

  // A single function above the thresholds, with its hottest stack and the callers reaching it.
  for (uint32_t id = 0; id < values.values.size(); ++id) {
    const double share = share_of(values.values[id].self, values.total);
    if (share < kHighShare) continue;
    Finding f;
    f.id = "hot_function";
    f.title = std::string(stacks.names.get(profile::StringId{id}));
    f.value = values.values[id].self;
    f.share = share;
    f.severity = severity_of(share);
    f.frames = {FindingFrame{f.title, f.value, share}};
    std::unordered_map<uint32_t, int64_t> callers;
    const profile::FoldedStacks::Stack* hottest = nullptr;
    for (const auto& s : stacks.stacks) {
      if (s.frames.empty() || s.frames.back().value != id) continue;
      // The caller is the first frame above the function's own (recursive) calls.
      size_t above = s.frames.size() - 1;
      while (above > 0 && s.frames[above - 1].value == id) --above;
      if (above > 0) {
        auto& caller = callers[s.frames[above - 1].value];
        caller = common::saturating_add(caller, s.value);
      }
      if (hottest == nullptr || s.value > hottest->value) hottest = &s;
    }
    f.callers = top_frames(callers, stacks.names, values.total);
    if (hottest != nullptr) {
      for (profile::StringId frame : hottest->frames) f.path.emplace_back(stacks.names.get(frame));
    }
    f.advice = kHotFunctionAdvice;
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.value != b.value) return a.value > b.value;
    return a.id != b.id ? a.id < b.id : a.title < b.title;
  });
  return out;
}

}  // namespace ember::analysis
