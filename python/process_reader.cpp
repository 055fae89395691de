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
// Pieces of one batch closer than this are read as one (the gap stays within their pages).
constexpr uint64_t kMergeGap = 512;
constexpr uint64_t kMaxPiece = 64 * 1024;

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
        objects_(memory_, layout_, info_, stats_) {
    tstate_size_ = std::max({layout_.tstate_next, layout_.tstate_thread_id,
                             layout_.tstate_native_thread_id, layout_.tstate_frame}) + 8;
  }

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
  // One frame of a chain as read: where it is and the fields that say what it runs.
  struct WalkedFrame {
    uint64_t address = 0;
    uint64_t code = 0;
    uint64_t previous = 0;
    uint64_t instr = 0;  // f_lasti or the instruction pointer
    uint8_t flag = 0;    // is_entry (3.11) or owner (3.12+)
    // Equal as far as the stack is concerned; a leaf's instruction moves as it runs.
    bool same(const WalkedFrame& o, bool leaf) const {
      return address == o.address && code == o.code && previous == o.previous &&
             flag == o.flag && (leaf || instr == o.instr);
    }
  };
  // Reads the fields of a frame's bytes.
  WalkedFrame walked(uint64_t address, std::span<const std::byte> b) const {
    WalkedFrame w{address, load<uint64_t>(b, layout_.frame_code),
                  load<uint64_t>(b, layout_.frame_previous), 0, 0};
    switch (layout_.frame_model) {
      case FrameModel::kFrameObject:
        w.instr = static_cast<uint64_t>(load<int32_t>(b, layout_.frame_instr));
        w.flag = load<uint8_t>(b, layout_.frame_executing);
        break;
      case FrameModel::kEntryFlag:
        w.instr = load<uint64_t>(b, layout_.frame_instr);
        w.flag = load<uint8_t>(b, layout_.frame_is_entry);
        break;
      case FrameModel::kShimFrames:
        w.instr = load<uint64_t>(b, layout_.frame_instr);
        w.flag = load<uint8_t>(b, layout_.frame_owner);
        break;
    }
    return w;
  }
  // 3.8–3.10 frame objects outlive their call (a code object keeps its last frame for
  // reuse, fields intact): only a frame still executing belongs to a stack.
  bool executing(const WalkedFrame& w) const {
    if (layout_.frame_model != FrameModel::kFrameObject) return true;
    if (layout_.line_table == LineTableFormat::kLinetable310) {
      auto state = static_cast<int8_t>(w.flag);
      return state == 0 || state == 2;  // FRAME_EXECUTING, FRAME_UNWINDING
    }
    return w.flag == 1;
  }
  // The frames of a batch, callers first (3.11+ frames sit in the thread's own stack, callers
  // below callees, so neighbours merge into few pieces): a caller read before its callee can
  // only have moved on if the callee returned, and a returned callee reads as such.
  void add_frame_spans(const std::vector<WalkedFrame>& frames);
  // What the last read of a thread found. The next read fetches all of it again with ONE
  // process_vm_readv (thread state, frames, code object heads): between two samples most of a
  // stack is unchanged, and on this kind of machine each system call costs over a microsecond.
  // Everything is still checked as if read afresh; what moved is read again.
  struct ThreadMemo {
    uint64_t tstate = 0;
    uint64_t pthread = 0;  // 3.8–3.10: the pthread_t the TID was found in
    uint64_t cframe = 0;   // 3.11–3.12: the _PyCFrame tstate pointed at
    std::vector<WalkedFrame> frames;  // the chain last read, leaf first
    bool checked = false;             // `frames` is a stack the thread had (see read_attempt)
    std::vector<uint64_t> codes;      // distinct code objects of those frames
  };
  struct RawFrame {
    uint64_t code = 0;
    int64_t instr_offset = 0;    // bytes from the first code unit; < 0 before the first
    uint64_t instr_pointer = 0;  // 3.11+: the raw pointer, turned into an offset later
    bool entry = false;
  };
  // Bytes read for the current stack, by remote address.
  struct Fetched {
    std::vector<RemoteMemory::Piece> pieces;
    size_t complete = 0;
    mutable size_t hint = 0;  // lookups come in address runs: try the last piece first
    const std::byte* find(uint64_t address, size_t size) const {
      for (size_t k = 0; k < complete; ++k) {
        size_t i = (hint + k) % complete;
        const auto& p = pieces[i];
        if (p.address <= address && address - p.address + size <= p.out.size()) {
          hint = i;
          return p.out.data() + (address - p.address);
        }
      }
      return nullptr;
    }
  };

  ReadStatus miss(Miss m);
  // Thread state head → TID and first frame pointer; `pthread_tid` is the TID read beside it
  // (3.8–3.10) or nullopt to read it now.
  Miss thread_identity(std::span<const std::byte> head, std::optional<int32_t> pthread_tid,
                       int32_t& tid, uint64_t& frame, uint64_t& next, uint64_t& pthread);
  // Walks every interpreter's threads for `tid`, remembering each thread met on the way.
  ReadStatus scan_threads(int32_t tid, uint64_t& frame, Miss& miss);
  // The speculative read of a remembered thread; kOk with `frame` set, or kNoPythonThread when
  // the memo no longer fits (the caller scans), or a miss.
  ReadStatus read_memo(int32_t tid, ThreadMemo& memo, uint64_t& frame, Miss& miss);
  std::span<std::byte> scratch(size_t bytes);

  int32_t pid_;
  InterpreterInfo info_;
  Layout layout_;
  RemoteMemory memory_;
  ReaderStats stats_;
  ObjectReader objects_;
  size_t tstate_size_ = 0;
  uint32_t pthread_tid_offset_ = 0;  // 3.8–3.10: TID inside struct pthread
  std::unordered_map<int32_t, ThreadMemo> threads_;
  Fetched fetched_;
  std::vector<std::byte> buffer_;
  size_t buffer_used_ = 0;
  std::vector<RawFrame> raw_;
  std::vector<WalkedFrame> walked_;
  struct Span {
    uint64_t begin = 0;
    uint64_t end = 0;
  };
  std::vector<Span> spans_;
  std::vector<RemoteMemory::Piece> check_pieces_;
  std::vector<const std::byte*> heads_;
  std::vector<size_t> missing_;
  std::vector<std::byte> extra_;
  std::vector<std::byte> check_buffer_;
  // Sorts spans_[from..] and merges neighbours, so that one batch reads few pieces and pages.
  void coalesce_spans(size_t from);
  // Reads the chain's frames again: true when nothing of it moved (see read_stack).
  enum class Check { kSame, kChanged, kGone };
  Check recheck(uint64_t tstate, uint64_t tstate_frame, uint64_t cframe, uint64_t leaf);
  // One attempt; kChanged in `changed` when the stack moved while it was read.
  ReadStatus read_attempt(int32_t tid, std::vector<Frame>& out, bool& changed);
  std::vector<std::shared_ptr<const CodeInfo>> pinned_;  // keeps the last stack's names alive
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

std::span<std::byte> Reader::scratch(size_t bytes) {
  // buffer_ is sized before each batch, so spans into it stay valid for the whole read.
  std::span<std::byte> s(buffer_.data() + buffer_used_, bytes);
  buffer_used_ += bytes;
  return s;
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

Miss Reader::thread_identity(std::span<const std::byte> head, std::optional<int32_t> pthread_tid,
                             int32_t& tid, uint64_t& frame, uint64_t& next, uint64_t& pthread) {
  next = load<uint64_t>(head, layout_.tstate_next);
  frame = load<uint64_t>(head, layout_.tstate_frame);
  if (layout_.tstate_native_thread_id) {
    tid = static_cast<int32_t>(load<uint64_t>(head, layout_.tstate_native_thread_id));
    return Miss::kNone;
  }
  pthread = load<uint64_t>(head, layout_.tstate_thread_id);
  if (pthread_tid) {
    tid = *pthread_tid;
    return Miss::kNone;
  }
  return to_miss(memory_.read_value(pthread + pthread_tid_offset_, tid));
}

ReadStatus Reader::scan_threads(int32_t tid, uint64_t& frame, Miss& miss) {
  if (threads_.size() > kMaxThreadCache) threads_.clear();
  uint64_t interp = 0;
  if (ReadResult r = memory_.read_value(
          info_.runtime_address + layout_.runtime_interpreters_head, interp);
      r != ReadResult::kOk) {
    miss = to_miss(r);
    return ReadStatus::kMiss;
  }
  std::byte head[512];
  if (tstate_size_ > sizeof head) {
    miss = Miss::kBadObject;
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
      std::span<std::byte> bytes(head, tstate_size_);
      if (ReadResult r = memory_.read(tstate, bytes); r != ReadResult::kOk) {
        miss = to_miss(r);
        return ReadStatus::kMiss;
      }
      int32_t seen = 0;
      uint64_t next = 0, first = 0, pthread = 0;
      miss = thread_identity(bytes, std::nullopt, seen, first, next, pthread);
      if (miss != Miss::kNone) return ReadStatus::kMiss;
      if (seen > 0) {
        ThreadMemo& memo = threads_[seen];
        if (memo.tstate != tstate || memo.pthread != pthread) memo = ThreadMemo{tstate, pthread, 0, {}, {}};
      }
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

ReadStatus Reader::read_memo(int32_t tid, ThreadMemo& memo, uint64_t& frame, Miss& miss) {
  // One batch: thread state, the TID in its pthread (3.8–3.10), its _PyCFrame (3.11–3.12),
  // the frames and the code objects of the last read.
  // Frames and code objects, neighbours merged into one piece: the kernel's cost is per piece
  // and page far more than per byte, and 3.11+ frames sit side by side in the thread's stack.
  spans_.clear();
  add_frame_spans(memo.frames);
  size_t codes_from = spans_.size();
  for (uint64_t c : memo.codes) spans_.push_back({c, c + layout_.code_size});
  coalesce_spans(codes_from);
  size_t bytes = tstate_size_ + 8 + 8;
  for (const auto& sp : spans_) bytes += sp.end - sp.begin;
  buffer_.resize(bytes);
  buffer_used_ = 0;
  auto& pieces = fetched_.pieces;
  pieces.clear();
  pieces.push_back({memo.tstate, scratch(tstate_size_)});
  const bool by_pthread = layout_.tstate_native_thread_id == 0;
  if (by_pthread) pieces.push_back({memo.pthread + pthread_tid_offset_, scratch(4)});
  const bool by_cframe = layout_.frame_via_cframe && memo.cframe;
  if (by_cframe) pieces.push_back({memo.cframe + layout_.cframe_current_frame, scratch(8)});
  for (const auto& sp : spans_) pieces.push_back({sp.begin, scratch(sp.end - sp.begin)});
  auto prefix = memory_.read_prefix(pieces);
  fetched_.complete = prefix.complete;
  if (prefix.result == ReadResult::kGone) {
    miss = Miss::kGone;
    return ReadStatus::kMiss;
  }
  size_t fixed = 1 + (by_pthread ? 1 : 0);
  if (prefix.complete < fixed) return ReadStatus::kNoPythonThread;  // rescan
  std::optional<int32_t> pthread_tid;
  if (by_pthread) pthread_tid = load<int32_t>(pieces[1].out, 0);
  int32_t seen = 0;
  uint64_t next = 0, pthread = 0;
  miss = thread_identity(pieces[0].out, pthread_tid, seen, frame, next, pthread);
  if (miss != Miss::kNone) return miss == Miss::kGone ? ReadStatus::kMiss : ReadStatus::kNoPythonThread;
  if (seen != tid || (by_pthread && pthread != memo.pthread)) return ReadStatus::kNoPythonThread;
  return ReadStatus::kOk;
}

void Reader::add_frame_spans(const std::vector<WalkedFrame>& frames) {
  size_t first = spans_.size();
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    uint64_t begin = it->address, end = it->address + layout_.frame_size;
    // Merge into the previous piece when close by, keeping callers-first order between pieces.
    if (spans_.size() > first) {
      Span& last = spans_.back();
      uint64_t lo = std::min(last.begin, begin), hi = std::max(last.end, end);
      if (begin <= last.end + kMergeGap && end + kMergeGap >= last.begin && hi - lo <= kMaxPiece) {
        last = {lo, hi};
        continue;
      }
    }
    spans_.push_back({begin, end});
  }
}

void Reader::coalesce_spans(size_t from) {
  std::sort(spans_.begin() + from, spans_.end(), [](auto& a, auto& b) { return a.begin < b.begin; });
  size_t merged = from;
  for (size_t i = from; i < spans_.size(); ++i) {
    if (merged > from && spans_[i].begin <= spans_[merged - 1].end + kMergeGap &&
        std::max(spans_[i].end, spans_[merged - 1].end) - spans_[merged - 1].begin <= kMaxPiece) {
      spans_[merged - 1].end = std::max(spans_[merged - 1].end, spans_[i].end);
    } else {
      spans_[merged++] = spans_[i];
    }
  }
  spans_.resize(merged);
}

Reader::Check Reader::recheck(uint64_t tstate, uint64_t tstate_frame, uint64_t cframe,
                              uint64_t leaf) {
  spans_.clear();
  add_frame_spans(walked_);
  size_t bytes = tstate_size_ + 8;
  for (const auto& sp : spans_) bytes += sp.end - sp.begin;
  check_buffer_.resize(bytes);
  check_pieces_.clear();
  size_t used = 0;
  auto take = [&](size_t n) {
    std::span<std::byte> s(check_buffer_.data() + used, n);
    used += n;
    return s;
  };
  check_pieces_.push_back({tstate, take(tstate_size_)});
  if (cframe) check_pieces_.push_back({cframe + layout_.cframe_current_frame, take(8)});
  for (const auto& sp : spans_) check_pieces_.push_back({sp.begin, take(sp.end - sp.begin)});
  auto prefix = memory_.read_prefix(check_pieces_);
  if (prefix.result == ReadResult::kGone) return Check::kGone;
  if (prefix.complete != check_pieces_.size()) return Check::kChanged;
  if (load<uint64_t>(check_pieces_[0].out, layout_.tstate_frame) != tstate_frame) return Check::kChanged;
  if (cframe && load<uint64_t>(check_pieces_[1].out, 0) != leaf) return Check::kChanged;
  Fetched again;
  again.pieces = check_pieces_;
  again.complete = check_pieces_.size();
  for (size_t i = 0; i < walked_.size(); ++i) {
    const std::byte* bytes = again.find(walked_[i].address, layout_.frame_size);
    if (!bytes) return Check::kChanged;
    WalkedFrame now = walked(walked_[i].address, {bytes, layout_.frame_size});
    if (!now.same(walked_[i], i == 0)) return Check::kChanged;
  }
  return Check::kSame;
}

ReadStatus Reader::read_stack(int32_t tid, std::vector<Frame>& out) {
  // A stack that changed while it was read is read once more before it counts as a miss.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool changed = false;
    ReadStatus status = read_attempt(tid, out, changed);
    if (!changed) return status;
  }
  out.clear();
  stats_.stack_changed++;
  return ReadStatus::kMiss;
}

ReadStatus Reader::read_attempt(int32_t tid, std::vector<Frame>& out, bool& changed) {
  out.clear();
  pinned_.clear();
  raw_.clear();
  walked_.clear();
  fetched_.pieces.clear();
  fetched_.complete = 0;

  // The thread state: the remembered one (read with the rest of the last stack), else a scan.
  uint64_t frame = 0;
  Miss m = Miss::kNone;
  ReadStatus status = ReadStatus::kNoPythonThread;
  auto memo_it = threads_.find(tid);
  if (memo_it != threads_.end()) {
    status = read_memo(tid, memo_it->second, frame, m);
    if (status == ReadStatus::kMiss) return miss(m);
    if (status != ReadStatus::kOk) {
      threads_.erase(memo_it);
      fetched_.pieces.clear();
      fetched_.complete = 0;
    }
  }
  if (status != ReadStatus::kOk) {
    status = scan_threads(tid, frame, m);
    if (status == ReadStatus::kMiss) return miss(m);
    if (status == ReadStatus::kNoPythonThread) {
      stats_.no_python_thread++;
      return status;
    }
  }
  ThreadMemo& memo = threads_[tid];
  const uint64_t tstate_frame = frame;
  uint64_t checked_cframe = 0;

  if (layout_.frame_via_cframe && frame) {
    uint64_t cframe = frame;
    checked_cframe = cframe;
    const std::byte* cached = cframe == memo.cframe ? fetched_.find(cframe + layout_.cframe_current_frame, 8) : nullptr;
    if (cached) {
      std::memcpy(&frame, cached, 8);
    } else if (ReadResult r = memory_.read_value(cframe + layout_.cframe_current_frame, frame);
               r != ReadResult::kOk) {
      return miss(to_miss(r));
    }
    memo.cframe = cframe;
  }

  const uint64_t leaf = frame;
  // Walk the frame chain, leaf first.
  std::byte own[512];
  if (layout_.frame_size > sizeof own) return miss(Miss::kBadObject);
  while (frame) {
    if (walked_.size() >= kMaxFrames) {
      stats_.chain_too_long++;
      return ReadStatus::kMiss;
    }
    std::span<const std::byte> bytes;
    if (const std::byte* cached = fetched_.find(frame, layout_.frame_size)) {
      bytes = {cached, layout_.frame_size};
    } else {
      std::span<std::byte> fresh(own, layout_.frame_size);
      if (ReadResult r = memory_.read(frame, fresh); r != ReadResult::kOk) return miss(to_miss(r));
      bytes = fresh;
    }
    RawFrame f;
    f.code = load<uint64_t>(bytes, layout_.frame_code);
    uint64_t previous = load<uint64_t>(bytes, layout_.frame_previous);
    const WalkedFrame& w = walked_.emplace_back(walked(frame, bytes));
    if (!executing(w)) {
      // A frame that has returned: the chain was read while it changed.
      memo.frames = walked_;
      memo.checked = false;
      changed = true;
      return ReadStatus::kMiss;
    }
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
          // The frame a native eval call pushes first: the one above it was entered from C.
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
  // A process_vm_readv is no snapshot: the target runs while the kernel copies, so frames read
  // at different moments can pair a callee with a caller it never had. A chain that is the
  // last checked one again (each frame the same function at the same call, the leaf anywhere
  // in its function) is a stack the thread had; any other is read a second time and must
  // come out the same.
  bool known = memo.checked && walked_.size() == memo.frames.size();
  for (size_t i = 0; known && i < walked_.size(); ++i) known = walked_[i].same(memo.frames[i], i == 0);
  if (!known) {
    Check check = recheck(memo.tstate, tstate_frame, checked_cframe, leaf);
    if (check == Check::kGone) return miss(Miss::kGone);
    if (check == Check::kChanged) {
      memo.frames = walked_;  // the next attempt reads these in its first batch
      memo.checked = false;
      changed = true;
      return ReadStatus::kMiss;
    }
  }
  memo.frames = walked_;
  memo.checked = true;
  if (raw_.empty()) {
    memo.codes.clear();
    stats_.no_python_thread++;
    return ReadStatus::kNoPythonThread;
  }

  // The code objects' heads: from the batch when they were in the last stack, the others
  // with one more system call.
  std::vector<uint64_t>& codes = memo.codes;
  codes.clear();
  std::vector<const std::byte*>& heads = heads_;
  heads.assign(raw_.size(), nullptr);
  std::vector<size_t>& missing = missing_;
  missing.clear();
  for (size_t i = 0; i < raw_.size(); ++i) {
    heads[i] = fetched_.find(raw_[i].code, layout_.code_size);
    if (!heads[i]) missing.push_back(i);
    if (std::find(codes.begin(), codes.end(), raw_[i].code) == codes.end()) {
      codes.push_back(raw_[i].code);
    }
  }
  std::vector<std::byte>& extra = extra_;
  extra.resize(missing.size() * layout_.code_size);
  if (!missing.empty()) {
    std::vector<RemoteMemory::Piece> pieces(missing.size());
    for (size_t k = 0; k < missing.size(); ++k) {
      pieces[k] = {raw_[missing[k]].code,
                   std::span<std::byte>(extra.data() + k * layout_.code_size, layout_.code_size)};
      heads[missing[k]] = pieces[k].out.data();
    }
    if (ReadResult r = memory_.read_many(pieces); r != ReadResult::kOk) return miss(to_miss(r));
  }

  out.reserve(raw_.size());
  pinned_.reserve(raw_.size());
  CodeHead last_head;
  for (size_t i = 0; i < raw_.size(); ++i) {
    const RawFrame& f = raw_[i];
    auto head = objects_.parse_head({heads[i], layout_.code_size});
    if (!head) {
      out.clear();
      return miss(Miss::kBadObject);
    }
    Miss code_miss = Miss::kNone;
    // Recursion: the same code object as the frame below, with the same head, is the same.
    std::shared_ptr<const CodeInfo> code =
        i > 0 && f.code == raw_[i - 1].code && *head == last_head ? pinned_.back()
                                                                   : objects_.code(f.code, *head, code_miss);
    last_head = *head;
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
    auto line = code->line_at(layout_.line_table, offset);
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
  stack_changed += o.stack_changed;
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
