#include "python/process_reader.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "python/interpreter.h"
#include "python/layout.h"
#include "python/line_table.h"
#include "python/object_reader.h"
#include "python/remote_memory.h"

namespace ember::python {

namespace {

template <class T>
T load(std::span<const std::byte> bytes, size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

constexpr size_t kMaxInterpreters = 64;
constexpr size_t kMaxThreads = 4096;
constexpr size_t kMaxThreadCache = 4096;
// glibc's struct pthread is well under this; the TID field is searched for inside it.
constexpr size_t kPthreadScanBytes = 2048;

// Where this process's glibc keeps a thread's TID inside its struct pthread (pthread_t points
// at it): found by looking for our own TID. The target usually runs the same glibc; attach()
// checks the offset against the target's main thread before trusting it.
std::optional<uint32_t> own_pthread_tid_offset() {
  auto self = reinterpret_cast<const std::byte*>(pthread_self());
  auto tid = static_cast<int32_t>(::syscall(SYS_gettid));
  for (uint32_t off = 0; off + 4 <= kPthreadScanBytes; off += 4) {
    int32_t v;
    std::memcpy(&v, self + off, 4);
    if (v == tid) return off;
  }
  return std::nullopt;
}

class Reader final : public ProcessReader {
 public:
  Reader(int32_t pid, InterpreterInfo info, Layout layout)
      : pid_(pid),
        info_(std::move(info)),
        layout_(layout),
        memory_(pid),
        objects_(memory_, layout_, info_, stats_) {}

  Result<void> calibrate_threads();

  int32_t pid() const override { return pid_; }
  Version version() const override { return info_.version; }
  const std::string& eval_module_path() const override { return info_.path; }
  uint64_t eval_module_inode() const override { return info_.inode; }
  uint64_t eval_module_device() const override { return info_.device; }
  std::span<const OffsetRange> eval_loop_ranges() const override { return info_.eval_ranges; }
  const ReaderStats& stats() const override { return stats_; }
  ReadStatus read_stack(int32_t tid, std::vector<Frame>& out) override;

 private:
  struct RawFrame {
    uint64_t code = 0;
    int64_t instr_offset = 0;  // bytes from the first code unit; < 0 before the first
    uint64_t instr_pointer = 0;  // 3.11+: the raw pointer, turned into an offset later
    bool entry = false;
  };

  // The thread state of `tid` and the first frame pointer it holds, or a miss / no thread.
  ReadStatus find_thread(int32_t tid, uint64_t& frame, Miss& miss);
  // Reads a thread state's head; sets its TID and first frame pointer.
  Miss read_thread(uint64_t tstate, int32_t& tid, uint64_t& frame, uint64_t& next);
  ReadStatus miss(Miss m);

  int32_t pid_;
  InterpreterInfo info_;
  Layout layout_;
  RemoteMemory memory_;
  ReaderStats stats_;
  ObjectReader objects_;
  uint32_t pthread_tid_offset_ = 0;  // 3.8–3.10: TID inside struct pthread
  std::unordered_map<int32_t, uint64_t> thread_states_;  // tid → PyThreadState*
  std::vector<RawFrame> raw_;
  std::vector<std::shared_ptr<const CodeInfo>> pinned_;  // keeps the last stack's names alive
  std::vector<std::byte> scratch_;
};

ReadStatus Reader::miss(Miss m) {
  switch (m) {
    case Miss::kGone: stats_.process_gone++; break;
    case Miss::kFault: stats_.read_failed++; break;
    case Miss::kBadObject:
    case Miss::kNone: stats_.bad_object++; break;
  }
  return ReadStatus::kMiss;
}

Result<void> Reader::calibrate_threads() {
  if (layout_.tstate_native_thread_id) return {};
  // 3.8–3.10 thread states hold only the pthread_t. The main thread's TID is the PID, and
  // _PyRuntime.main_thread is its pthread_t: find the TID field there.
  uint64_t main_thread = 0;
  if (memory_.read_value(info_.runtime_address + layout_.runtime_main_thread, main_thread) !=
          ReadResult::kOk ||
      main_thread == 0) {
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("pid {}: cannot read the main thread of CPython {}", pid_,
                                  to_string(info_.version)));
  }
  std::vector<std::byte> bytes(kPthreadScanBytes);
  if (memory_.read(main_thread, bytes) != ReadResult::kOk) {
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("pid {}: cannot read the main thread's pthread", pid_));
  }
  auto holds_pid = [&](uint32_t off) { return load<int32_t>(bytes, off) == pid_; };
  if (auto own = own_pthread_tid_offset(); own && holds_pid(*own)) {
    pthread_tid_offset_ = *own;
    return {};
  }
  for (uint32_t off = 0; off + 4 <= kPthreadScanBytes; off += 4) {
    if (holds_pid(off)) {
      pthread_tid_offset_ = off;
      return {};
    }
  }
  return make_error(ErrorCode::kUnsupported,
                    fmt::format("pid {}: cannot find thread ids in the C library's thread "
                                "records (CPython {} has no native_thread_id)",
                                pid_, to_string(info_.version)));
}

Miss Reader::read_thread(uint64_t tstate, int32_t& tid, uint64_t& frame, uint64_t& next) {
  std::byte head[512];
  size_t size = std::max({layout_.tstate_next, layout_.tstate_thread_id,
                          layout_.tstate_native_thread_id, layout_.tstate_frame}) + 8;
  if (size > sizeof head) return Miss::kBadObject;
  std::span<std::byte> bytes(head, size);
  if (ReadResult r = memory_.read(tstate, bytes); r != ReadResult::kOk) return to_miss(r);
  next = load<uint64_t>(bytes, layout_.tstate_next);
  frame = load<uint64_t>(bytes, layout_.tstate_frame);
  if (layout_.tstate_native_thread_id) {
    tid = static_cast<int32_t>(load<uint64_t>(bytes, layout_.tstate_native_thread_id));
    return Miss::kNone;
  }
  uint64_t pthread = load<uint64_t>(bytes, layout_.tstate_thread_id);
  if (ReadResult r = memory_.read_value(pthread + pthread_tid_offset_, tid); r != ReadResult::kOk) {
    return to_miss(r);
  }
  return Miss::kNone;
}

ReadStatus Reader::find_thread(int32_t tid, uint64_t& frame, Miss& miss) {
  // Fast path: the thread state this TID had last time, if it still belongs to it.
  if (auto it = thread_states_.find(tid); it != thread_states_.end()) {
    int32_t seen = 0;
    uint64_t next = 0;
    miss = read_thread(it->second, seen, frame, next);
    if (miss == Miss::kGone) return ReadStatus::kMiss;
    if (miss == Miss::kNone && seen == tid) return ReadStatus::kOk;
    thread_states_.erase(it);
  }
  // Walk every interpreter's thread list, remembering each thread met on the way.
  if (thread_states_.size() > kMaxThreadCache) thread_states_.clear();
  uint64_t interp = 0;
  if (ReadResult r = memory_.read_value(
          info_.runtime_address + layout_.runtime_interpreters_head, interp);
      r != ReadResult::kOk) {
    miss = to_miss(r);
    return ReadStatus::kMiss;
  }
  for (size_t i = 0; interp && i < kMaxInterpreters; ++i) {
    uint64_t tstate = 0, next_interp = 0;
    if (ReadResult r = memory_.read_value(interp + layout_.interp_threads_head, tstate);
        r != ReadResult::kOk) {
      miss = to_miss(r);
      return ReadStatus::kMiss;
    }
    if (ReadResult r = memory_.read_value(interp + layout_.interp_next, next_interp);
        r != ReadResult::kOk) {
      miss = to_miss(r);
      return ReadStatus::kMiss;
    }
    for (size_t j = 0; tstate && j < kMaxThreads; ++j) {
      int32_t seen = 0;
      uint64_t next = 0, first = 0;
      miss = read_thread(tstate, seen, first, next);
      if (miss != Miss::kNone) return ReadStatus::kMiss;
      if (seen > 0) thread_states_[seen] = tstate;
      if (seen == tid) {
        frame = first;
        return ReadStatus::kOk;
      }
      tstate = next;
    }
    interp = next_interp;
  }
  miss = Miss::kNone;
  return ReadStatus::kNoPythonThread;
}

ReadStatus Reader::read_stack(int32_t tid, std::vector<Frame>& out) {
  out.clear();
  pinned_.clear();
  raw_.clear();
  uint64_t frame = 0;
  Miss m = Miss::kNone;
  ReadStatus status = find_thread(tid, frame, m);
  if (status == ReadStatus::kMiss) return miss(m);
  if (status == ReadStatus::kNoPythonThread) {
    stats_.no_python_thread++;
    return status;
  }
  if (layout_.frame_via_cframe && frame) {
    uint64_t cframe = frame;
    if (ReadResult r = memory_.read_value(cframe + layout_.cframe_current_frame, frame);
        r != ReadResult::kOk) {
      return miss(to_miss(r));
    }
  }

  // Walk the frame chain, leaf first.
  std::byte buffer[512];
  if (layout_.frame_size > sizeof buffer) return miss(Miss::kBadObject);
  std::span<std::byte> bytes(buffer, layout_.frame_size);
  size_t steps = 0;
  while (frame) {
    if (++steps > kMaxFrames) {
      stats_.chain_too_long++;
      return ReadStatus::kMiss;
    }
    if (ReadResult r = memory_.read(frame, bytes); r != ReadResult::kOk) return miss(to_miss(r));
    RawFrame f;
    f.code = load<uint64_t>(bytes, layout_.frame_code);
    uint64_t previous = load<uint64_t>(bytes, layout_.frame_previous);
    switch (layout_.frame_model) {
      case FrameModel::kFrameObject: {
        if (load<uint64_t>(bytes, layout_.object_type) != info_.frame_type) {
          return miss(Miss::kBadObject);
        }
        int32_t lasti = load<int32_t>(bytes, layout_.frame_instr);
        // 3.10 counts code units, 3.8–3.9 bytes.
        f.instr_offset = layout_.line_table == LineTableFormat::kLinetable310 && lasti >= 0
                             ? int64_t{lasti} * 2
                             : lasti;
        f.entry = true;
        break;
      }
      case FrameModel::kEntryFlag:
        f.instr_pointer = load<uint64_t>(bytes, layout_.frame_instr);
        f.entry = load<uint8_t>(bytes, layout_.frame_is_entry) != 0;
        break;
      case FrameModel::kShimFrames:
        if (load<uint8_t>(bytes, layout_.frame_owner) == Layout::kOwnedByCStack) {
          if (!raw_.empty()) raw_.back().entry = true;
          frame = previous;
          continue;
        }
        f.instr_pointer = load<uint64_t>(bytes, layout_.frame_instr);
        break;
    }
    raw_.push_back(f);
    frame = previous;
  }
  if (raw_.empty()) {
    stats_.no_python_thread++;
    return ReadStatus::kNoPythonThread;
  }

  // One system call for the heads of every frame's code object.
  scratch_.resize(raw_.size() * layout_.code_size);
  std::vector<RemoteMemory::Piece> pieces(raw_.size());
  for (size_t i = 0; i < raw_.size(); ++i) {
    pieces[i] = {raw_[i].code,
                 std::span<std::byte>(scratch_.data() + i * layout_.code_size, layout_.code_size)};
  }
  if (ReadResult r = memory_.read_many(pieces); r != ReadResult::kOk) return miss(to_miss(r));

  out.reserve(raw_.size());
  pinned_.reserve(raw_.size());
  for (size_t i = 0; i < raw_.size(); ++i) {
    const RawFrame& f = raw_[i];
    auto head = objects_.parse_head(pieces[i].out);
    if (!head) {
      out.clear();
      return miss(Miss::kBadObject);
    }
    Miss code_miss = Miss::kNone;
    auto code = objects_.code(f.code, *head, code_miss);
    if (!code) {
      out.clear();
      return miss(code_miss);
    }
    int64_t offset = f.instr_offset;
    if (layout_.frame_model != FrameModel::kFrameObject) {
      // The instruction pointer must point into this code object's bytecode (or one unit
      // before it, a frame that has not started): anything else is a frame torn mid-read.
      int64_t start = static_cast<int64_t>(f.code + layout_.code_adaptive);
      offset = static_cast<int64_t>(f.instr_pointer) - start;
      if (offset < -2 || offset >= static_cast<int64_t>(code->code_units * 2) || offset % 2) {
        out.clear();
        return miss(Miss::kBadObject);
      }
    }
    auto line = line_for_offset(layout_.line_table, code->line_table, code->first_line, offset);
    if (!line) stats_.line_unknown++;
    out.push_back(Frame{code->function, code->file, line.value_or(0), code->first_line, f.entry});
    pinned_.push_back(std::move(code));
  }
  stats_.stacks_read++;
  stats_.frames_read += out.size();
  return ReadStatus::kOk;
}

}  // namespace

ReaderStats& ReaderStats::operator+=(const ReaderStats& o) {
  stacks_read += o.stacks_read;
  frames_read += o.frames_read;
  no_python_thread += o.no_python_thread;
  process_gone += o.process_gone;
  read_failed += o.read_failed;
  bad_object += o.bad_object;
  chain_too_long += o.chain_too_long;
  line_unknown += o.line_unknown;
  code_cache_hits += o.code_cache_hits;
  code_cache_misses += o.code_cache_misses;
  code_cache_evictions += o.code_cache_evictions;
  string_cache_hits += o.string_cache_hits;
  string_cache_misses += o.string_cache_misses;
  string_cache_evictions += o.string_cache_evictions;
  return *this;
}

Result<std::unique_ptr<ProcessReader>> ProcessReader::attach(int32_t pid) {
  return attach(pid, "/proc");
}

Result<std::unique_ptr<ProcessReader>> ProcessReader::attach(int32_t pid,
                                                             const std::string& proc_root) {
  auto info = find_interpreter(pid, proc_root);
  if (!info) return std::unexpected(info.error());
  std::optional<Layout> layout = builtin_layout(info->version.minor);
  if (!layout) {
    // 3.13+: the interpreter describes itself at the start of _PyRuntime.
    std::vector<std::byte> bytes(kDebugOffsetsBytes);
    ReadResult r = RemoteMemory(pid).read(info->runtime_address, bytes);
    if (r != ReadResult::kOk) {
      return make_error(r == ReadResult::kGone ? ErrorCode::kNotFound : ErrorCode::kIo,
                        fmt::format("pid {}: cannot read _PyRuntime", pid));
    }
    auto parsed = layout_from_debug_offsets(bytes, info->version);
    if (!parsed) return std::unexpected(parsed.error().with_context(fmt::format("pid {}", pid)));
    layout = *parsed;
  }
  layout->version = info->version;
  auto reader = std::make_unique<Reader>(pid, std::move(*info), *layout);
  if (auto ok = reader->calibrate_threads(); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<ProcessReader>(std::move(reader));
}

}  // namespace ember::python
