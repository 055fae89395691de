#pragma once
// Reads the Python stacks of a running CPython 3.8–3.13 process from outside, with
// process_vm_readv: no ptrace, the target is never stopped. The collector attaches once per
// process and calls read_stack() right after a sample of one of its threads arrives; the frames
// come out already named (function, file, line), so nothing of the target's memory is needed later.
//
// What eval_loop_ranges() holds, per version (the native frames the merge replaces with the
// Python frames they were running):
//   3.8–3.10  _PyEval_EvalFrameDefault (and its compiler-split ".cold" part when the symbol table
//             names it). One native call per Python frame: every Frame is an entry frame.
//   3.11      _PyEval_EvalFrameDefault (+ ".cold"). One native call runs a run of Python frames;
//             Frame.entry marks the first (outermost) frame of each run (the frame's is_entry).
//   3.12–3.13 _PyEval_EvalFrameDefault (+ ".cold"). Each native call pushes a shim frame owned by
//             the C stack; the shim is not returned, the frame run right above it is the entry frame.
// Generators and coroutines resumed from C (send(), asyncio's step) start a new run like any call.
//
// Reading a running process is no snapshot: the kernel copies while the target runs. A stack
// that differs from the thread's last checked one is read a second time and must come out the
// same (the leaf's instruction aside), 3.8–3.10 frames must still be executing, and every object
// is checked (type, sizes, bounds); what fails is a miss counted by reason, read again once
// first. A chain that changes faster than a read (a few µs) can still, rarely, pair a caller
// with a callee of the next moment: ≤ 0.05% of reads under a program that switches call chains
// every few µs (tests/python: StacksThatChangeUnderTheReaderAreRightOrMissed), 0 in most runs.
//
// One reader per process, used by one thread. After the process execs, the caller drops the
// reader and attaches again (the addresses it holds belong to the old image).

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "python/bpf/python_stack_abi.h"

namespace ember::python {

struct Version {
  int major = 0;
  int minor = 0;
  int micro = 0;
};
std::string to_string(const Version& v);  // "3.11.7"

// [begin, end) FILE OFFSETS in the eval module.
struct OffsetRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// One Python frame, already named. The string_views stay valid until the next read_stack() on
// the same reader.
struct Frame {
  std::string_view function;  // co_qualname on 3.11+, co_name before
  std::string_view file;      // co_filename
  int32_t line = 0;           // line being executed (line table + last instruction); 0 when unknown
  int32_t first_line = 0;     // co_firstlineno
  // Entered from C: this frame and the frames above it (towards the leaf), up to the next entry
  // frame, were run by ONE native eval-loop call. On 3.8–3.10 every frame is an entry frame.
  bool entry = false;
};

enum class ReadStatus {
  kOk,
  kNoPythonThread,  // no thread state for this TID, or no Python frame on it: not running Python
  kMiss,            // a race or damage: counted in stats() by reason, nothing returned
};

// Counters of one reader; operator+= sums several readers (the collector's total).
struct ReaderStats {
  uint64_t stacks_read = 0;        // kOk results
  uint64_t frames_read = 0;        // frames in those stacks
  uint64_t no_python_thread = 0;   // kNoPythonThread results
  // Misses, by reason (each kMiss counts exactly one):
  uint64_t process_gone = 0;       // ESRCH: the process exited (or execed) mid-read
  uint64_t read_failed = 0;        // EFAULT or a short read: memory unmapped or freed under us
  uint64_t bad_object = 0;         // a type, size or value check failed (torn or reused object)
  uint64_t chain_too_long = 0;     // more than kMaxFrames frames, or a loop in the chain
  uint64_t stack_changed = 0;      // the stack moved while it was read, twice in a row
  // Not misses: the frame is kept, its line is 0.
  uint64_t line_unknown = 0;
  // Caches (per process; bounded in entries and bytes, oldest evicted first).
  uint64_t code_cache_hits = 0;
  uint64_t code_cache_misses = 0;
  uint64_t code_cache_evictions = 0;
  uint64_t string_cache_hits = 0;
  uint64_t string_cache_misses = 0;
  uint64_t string_cache_evictions = 0;

  uint64_t misses() const {
    return process_gone + read_failed + bad_object + chain_too_long + stack_changed;
  }
  ReaderStats& operator+=(const ReaderStats& o);
};

// Limits that bound every read: the target may be in any state, or hostile.
inline constexpr size_t kMaxFrames = 1024;
inline constexpr size_t kMaxStringBytes = 4096;      // function and file names
inline constexpr size_t kMaxLineTableBytes = 65536;  // co_lnotab / co_linetable

class ProcessReader {
 public:
  // Looks for CPython in /proc/PID/maps (a python executable or libpython3.X.so), reads its
  // version from the binary, finds _PyRuntime (load bias applied). Errors:
  //   kNotFound     the process has no CPython (or is gone): callers stay quiet;
  //   kUnsupported  a CPython ember cannot read, message "pid 123: CPython 3.7.16 is not
  //                 supported (3.8-3.13 are)": callers print it once as a warning;
  //   others        a failure, named ("pid 123: /usr/lib/libpython3.11.so: ...").
  [[nodiscard]] static Result<std::unique_ptr<ProcessReader>> attach(int32_t pid);
  // The same under another proc root (tests, containers seen from the host's /proc).
  [[nodiscard]] static Result<std::unique_ptr<ProcessReader>> attach(int32_t pid,
                                                                     const std::string& proc_root);

  virtual ~ProcessReader() = default;

  virtual int32_t pid() const = 0;
  virtual Version version() const = 0;

  // The binary that holds the eval loop, as mapped (path in the target's view, inode, device),
  // and the file-offset ranges of the native functions that run Python frames (see the top of
  // this file), so the collector can recognise them by (module, offset).
  virtual const std::string& eval_module_path() const = 0;
  virtual uint64_t eval_module_inode() const = 0;
  virtual uint64_t eval_module_device() const = 0;  // makedev(major, minor) of the mapping
  virtual std::span<const OffsetRange> eval_loop_ranges() const = 0;

  // Reads the Python stack of thread `tid`, LEAF FIRST, replacing `out`. On kNoPythonThread and
  // kMiss `out` is left empty.
  virtual ReadStatus read_stack(int32_t tid, std::vector<Frame>& out) = 0;
  virtual const ReaderStats& stats() const = 0;

  // For the kernel-side reader (kernel_reader.h): this interpreter's layout in its terms
  // (nullopt when its objects are larger than the kernel side reads), the thread states this
  // reader has found (TID, address), and the naming of a stack the kernel read (status
  // EMBER_PY_OK, of this process), with the checks and caches of read_stack.
  virtual std::optional<ember_py_process> kernel_layout() const = 0;
  virtual void thread_states(std::vector<std::pair<int32_t, uint64_t>>& out) const = 0;
  virtual ReadStatus name_kernel_stack(const ember_py_stack& stack, std::vector<Frame>& out) = 0;
};

}  // namespace ember::python
