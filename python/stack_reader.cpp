#include "python/stack_reader.h"

#include <algorithm>
#include <cstring>

#include "python/line_table.h"

namespace ember::python {

ReadStatus StackReader::miss(Miss m) {
  switch (m) {
    case Miss::kGone: stats_.process_gone++; break;
    case Miss::kFault: stats_.read_failed++; break;
    case Miss::kBadObject:
    case Miss::kNone: stats_.bad_object++; break;
  }
  return ReadStatus::kMiss;
}

std::span<std::byte> StackReader::scratch(size_t bytes) {
  // buffer_ is sized before each batch, so spans into it stay valid for the whole read.
  std::span<std::byte> s(buffer_.data() + buffer_used_, bytes);
  buffer_used_ += bytes;
  return s;
}

StackReader::Check StackReader::recheck(uint64_t tstate, uint64_t tstate_frame, uint64_t cframe,
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

ReadStatus StackReader::read_stack(int32_t tid, std::vector<Frame>& out) {
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

ReadStatus StackReader::read_attempt(int32_t tid, std::vector<Frame>& out, bool& changed) {
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
  memo.frames.swap(walked_);  // walked_ is not needed again before the next read
  memo.checked = true;
  if (raw_.empty()) {
    memo.codes.clear();
    stats_.no_python_thread++;
    return ReadStatus::kNoPythonThread;
  }

  // Each distinct code object once (a recursion is many frames of one): its head from the batch
  // when it was in the last stack, the others with one more system call; then its names.
  std::vector<uint64_t>& codes = memo.codes;
  index_codes(codes);
  std::vector<const std::byte*>& heads = heads_;
  heads.assign(codes.size(), nullptr);
  std::vector<size_t>& missing = missing_;
  missing.clear();
  for (size_t k = 0; k < codes.size(); ++k) {
    heads[k] = fetched_.find(codes[k], layout_.code_size);
    if (!heads[k]) missing.push_back(k);
  }
  std::vector<std::byte>& extra = extra_;
  extra.resize(missing.size() * layout_.code_size);
  if (!missing.empty()) {
    std::vector<RemoteMemory::Piece>& pieces = check_pieces_;
    pieces.resize(missing.size());
    for (size_t m = 0; m < missing.size(); ++m) {
      pieces[m] = {codes[missing[m]], std::span<std::byte>(extra.data() + m * layout_.code_size, layout_.code_size)};
      heads[missing[m]] = pieces[m].out.data();
    }
    if (ReadResult r = memory_.read_many(pieces); r != ReadResult::kOk) return miss(to_miss(r));
  }
  pinned_.reserve(codes.size());
  for (size_t k = 0; k < codes.size(); ++k) {
    auto head = objects_.parse_head({heads[k], layout_.code_size});
    if (!head) return miss(Miss::kBadObject);
    Miss code_miss = Miss::kNone;
    std::shared_ptr<const CodeInfo> code = objects_.code(codes[k], *head, code_miss);
    if (!code) return miss(code_miss);
    pinned_.push_back(std::move(code));
  }

  return name_frames(out);
}

void StackReader::index_codes(std::vector<uint64_t>& codes) {
  codes.clear();
  code_of_.resize(raw_.size());
  for (size_t i = 0; i < raw_.size(); ++i) {
    const uint64_t c = raw_[i].code;
    const size_t k = i > 0 && raw_[i - 1].code == c
                         ? code_of_[i - 1]
                         : static_cast<size_t>(std::find(codes.begin(), codes.end(), c) - codes.begin());
    if (k == codes.size()) codes.push_back(c);
    code_of_[i] = static_cast<uint32_t>(k);
  }
}

ReadStatus StackReader::name_frames(std::vector<Frame>& out) {
  out.reserve(raw_.size());
  for (size_t i = 0; i < raw_.size(); ++i) {
    const RawFrame& f = raw_[i];
    const CodeInfo& code = *pinned_[code_of_[i]];
    int64_t offset = f.instr_offset;
    if (layout_.frame_model != FrameModel::kFrameObject) {
      // The instruction pointer must point into this code object's bytecode (or one unit
      // before it, a frame that has not started): anything else is a frame torn mid-read.
      int64_t start = static_cast<int64_t>(f.code + layout_.code_adaptive);
      offset = static_cast<int64_t>(f.instr_pointer) - start;
      if (offset < -2 || offset >= static_cast<int64_t>(code.code_units * 2) || offset % 2) {
        out.clear();
        return miss(Miss::kBadObject);
      }
    }
    auto line = code.line_at(layout_.line_table, offset);
    if (!line) stats_.line_unknown++;
    out.push_back(Frame{code.function, code.file, line.value_or(0), code.first_line, f.entry});
  }
  stats_.stacks_read++;
  stats_.frames_read += out.size();
  return ReadStatus::kOk;
}

std::optional<ember_py_process> StackReader::kernel_layout() const {
  if (layout_.frame_size > EMBER_PY_OBJECT_BYTES || layout_.code_size > EMBER_PY_OBJECT_BYTES) return std::nullopt;
  ember_py_process p{};
  switch (layout_.frame_model) {
    case FrameModel::kFrameObject:
      p.model = EMBER_PY_FRAME_OBJECT;
      p.frame_flag = layout_.frame_executing;
      break;
    case FrameModel::kEntryFlag:
      p.model = EMBER_PY_ENTRY_FLAG;
      p.frame_flag = layout_.frame_is_entry;
      break;
    case FrameModel::kShimFrames:
      p.model = EMBER_PY_SHIM_FRAMES;
      p.frame_flag = layout_.frame_owner;
      break;
  }
  p.tstate_native_thread_id = layout_.tstate_native_thread_id;
  p.tstate_thread_id = layout_.tstate_thread_id;
  p.pthread_tid = pthread_tid_offset_;
  p.tstate_frame = layout_.tstate_frame;
  p.via_cframe = layout_.frame_via_cframe ? 1 : 0;
  p.cframe_current_frame = layout_.cframe_current_frame;
  p.frame_previous = layout_.frame_previous;
  p.frame_code = layout_.frame_code;
  p.frame_instr = layout_.frame_instr;
  p.frame_size = layout_.frame_size;
  p.object_type = layout_.object_type;
  p.var_size = layout_.bytes_size;
  p.code_name = layout_.code_name;
  p.code_qualname = layout_.code_qualname;
  p.code_filename = layout_.code_filename;
  p.code_linetable = layout_.code_linetable;
  p.code_firstlineno = layout_.code_firstlineno;
  p.code_size = layout_.code_size;
  return p;
}

void StackReader::thread_states(std::vector<std::pair<int32_t, uint64_t>>& out) const {
  out.clear();
  for (const auto& [tid, memo] : threads_) {
    if (memo.tstate) out.emplace_back(tid, memo.tstate);
  }
}

ReadStatus StackReader::name_kernel_stack(const ember_py_stack& stack, std::vector<Frame>& out) {
  // Read in the interrupt that took the sample, while the thread stood still: the chain is one
  // the thread had, so no second read. Every object is still checked as if read from here.
  out.clear();
  pinned_.clear();
  raw_.clear();
  // A record of another process (a caller's mistake, or a PID reused): nothing of it is read.
  if (static_cast<int32_t>(stack.pid) != pid_) return miss(Miss::kBadObject);
  const size_t n = std::min<size_t>(stack.frames, EMBER_PY_MAX_FRAMES);
  std::vector<CodeHead>& heads = kernel_heads_;
  heads.clear();
  for (size_t i = 0; i < n; ++i) {
    const ember_py_frame& k = stack.frame[i];
    RawFrame f;
    f.code = k.code;
    switch (layout_.frame_model) {
      case FrameModel::kFrameObject: {
        const WalkedFrame w{k.address, k.code, 0, 0, k.flag};
        if (k.frame_type != info_.frame_type) return miss(Miss::kBadObject);
        // A leaf frame being set up or torn down (the sample fell between tstate->frame moving and
        // f_executing changing) is not running yet or any more: its caller is the leaf.
        if (!executing(w)) {
          if (i == 0) continue;
          return miss(Miss::kBadObject);
        }
        const auto lasti = static_cast<int32_t>(k.instr);
        f.instr_offset = layout_.line_table == LineTableFormat::kLinetable310 && lasti >= 0 ? int64_t{lasti} * 2 : lasti;
        f.entry = true;
        break;
      }
      case FrameModel::kEntryFlag:
        f.instr_pointer = k.instr;
        f.entry = k.flag != 0;
        break;
      case FrameModel::kShimFrames:
        if (k.flag == Layout::kOwnedByCStack) {
          if (!raw_.empty()) raw_.back().entry = true;
          continue;
        }
        f.instr_pointer = k.instr;
        break;
    }
    raw_.push_back(f);
    heads.push_back(CodeHead{k.code_type, k.code_var_size, k.name, k.qualname, k.filename, k.linetable, k.first_line});
  }
  if (raw_.empty()) {
    stats_.no_python_thread++;
    return ReadStatus::kNoPythonThread;
  }
  index_codes(kernel_codes_);
  // The head of each distinct code object, from its first frame.
  std::vector<size_t>& first = missing_;
  first.assign(kernel_codes_.size(), SIZE_MAX);
  for (size_t i = 0; i < raw_.size(); ++i) {
    if (first[code_of_[i]] == SIZE_MAX) first[code_of_[i]] = i;
  }
  pinned_.reserve(kernel_codes_.size());
  for (size_t k = 0; k < kernel_codes_.size(); ++k) {
    const CodeHead& head = heads[first[k]];
    if (!objects_.plausible(head)) return miss(Miss::kBadObject);
    Miss code_miss = Miss::kNone;
    std::shared_ptr<const CodeInfo> code = objects_.code(kernel_codes_[k], head, code_miss);
    if (!code) return miss(code_miss);
    pinned_.push_back(std::move(code));
  }
  return name_frames(out);
}

}  // namespace ember::python
