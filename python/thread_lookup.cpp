#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "python/stack_reader.h"

namespace ember::python {

namespace {

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

}  // namespace

Result<void> StackReader::calibrate_threads() {
  if (layout_.tstate_native_thread_id) return {};
  // 3.8–3.10 thread states hold only the pthread_t. The main thread's TID is the PID, and
  // _PyRuntime.main_thread is its pthread_t: find the TID field there.
  uint64_t main_thread = 0;
  if (memory_.read_value(info_.runtime_address + layout_.runtime_main_thread, main_thread) ==
          ReadResult::kOk &&
      main_thread == 0) {
    // Sampled before Py_Initialize (a launched program's first milliseconds): ask again later.
    return make_error(ErrorCode::kInterrupted,
                      fmt::format("pid {}: CPython {} has not set up its main thread yet", pid_,
                                  to_string(info_.version)));
  }
  if (main_thread == 0) {
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

Miss StackReader::thread_identity(std::span<const std::byte> head, std::optional<int32_t> pthread_tid,
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

ReadStatus StackReader::scan_threads(int32_t tid, uint64_t& frame, Miss& miss) {
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

ReadStatus StackReader::read_memo(int32_t tid, ThreadMemo& memo, uint64_t& frame, Miss& miss) {
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

void StackReader::add_frame_spans(const std::vector<WalkedFrame>& frames) {
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

void StackReader::coalesce_spans(size_t from) {
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

}  // namespace ember::python
