#pragma once
// The ProcessReader of one CPython process (internal to python/): thread lookup and batched
// reads in thread_lookup.cpp, the frame walk and its checks in stack_reader.cpp.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "python/bytes.h"
#include "python/interpreter.h"
#include "python/layout.h"
#include "python/object_reader.h"
#include "python/process_reader.h"
#include "python/remote_memory.h"

namespace ember::python {

class StackReader final : public ProcessReader {
 public:
  StackReader(int32_t pid, InterpreterInfo info, Layout layout)
      : pid_(pid),
        info_(std::move(info)),
        layout_(layout),
        memory_(pid),
        objects_(memory_, layout_, info_, stats_) {
    tstate_size_ = std::max({layout_.tstate_next, layout_.tstate_thread_id,
                             layout_.tstate_native_thread_id, layout_.tstate_frame}) + 8;
  }

  [[nodiscard]] Result<void> calibrate_threads();

  int32_t pid() const override { return pid_; }
  Version version() const override { return info_.version; }
  const std::string& eval_module_path() const override { return info_.path; }
  uint64_t eval_module_inode() const override { return info_.inode; }
  uint64_t eval_module_device() const override { return info_.device; }
  std::span<const OffsetRange> eval_loop_ranges() const override { return info_.eval_ranges; }
  const ReaderStats& stats() const override { return stats_; }
  ReadStatus read_stack(int32_t tid, std::vector<Frame>& out) override;
  std::optional<ember_py_process> kernel_layout() const override;
  void thread_states(std::vector<std::pair<int32_t, uint64_t>>& out) const override;
  ReadStatus name_kernel_stack(const ember_py_stack& stack, std::vector<Frame>& out) override;

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
  std::vector<uint32_t> code_of_;  // per raw_ frame: its code object's index in memo.codes
  std::vector<const std::byte*> heads_;
  std::vector<size_t> missing_;
  std::vector<std::byte> extra_;
  std::vector<std::byte> check_buffer_;
  std::vector<CodeHead> kernel_heads_;   // name_kernel_stack: per raw_ frame
  std::vector<uint64_t> kernel_codes_;   // name_kernel_stack: distinct code objects
  // Sorts spans_[from..] and merges neighbours, so that one batch reads few pieces and pages.
  void coalesce_spans(size_t from);
  // Reads the chain's frames again: true when nothing of it moved (see read_stack).
  enum class Check { kSame, kChanged, kGone };
  Check recheck(uint64_t tstate, uint64_t tstate_frame, uint64_t cframe, uint64_t leaf);
  // raw_ → code_of_ and `codes`: each distinct code object once (a recursion is many frames of one).
  void index_codes(std::vector<uint64_t>& codes);
  // raw_, code_of_ and pinned_ → `out`, named, with lines.
  ReadStatus name_frames(std::vector<Frame>& out);
  // One attempt; kChanged in `changed` when the stack moved while it was read.
  ReadStatus read_attempt(int32_t tid, std::vector<Frame>& out, bool& changed);
  // The last stack's code objects, as memo.codes: keeps its names alive.
  std::vector<std::shared_ptr<const CodeInfo>> pinned_;
};

}  // namespace ember::python
