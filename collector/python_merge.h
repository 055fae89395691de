#pragma once
// The merge of a sample's native stack with the Python stack of the same thread: each native
// frame of the interpreter's evaluation loop is replaced by the Python frames it was running, in
// order, so C extension frames stay below the Python function that called them and the kernel
// below those:
//
//   native  deflate; zlib_compress_impl; cfunction_call; _PyEval_EvalFrameDefault;
//           _PyEval_Vector; builtin_map; _PyEval_EvalFrameDefault; PyEval_EvalCode; main
//   python  handle (app.py:40) [entry]; work (app.py:20); main (app.py:12) [entry]
//   merged  deflate; zlib_compress_impl; cfunction_call; handle; _PyEval_Vector; builtin_map;
//           work; main; PyEval_EvalCode; main                                      (leaf first)
//
// The Python stack is read from the live process a little after the kernel took the sample,
// so the two may disagree (the thread returned or called on meanwhile). The policy never
// invents a shape: eval frames and Python segments are paired from the root (the part of a
// stack that lives longest), the unpaired leaf-most eval frames stay native, unpaired leaf-most
// Python segments are left out, and the disagreement is reported in the outcome (and counted
// by the caller). Only when the native stack was cut short (it did not reach the root) are they
// paired from the leaf, and the Python callers it could not reach are put above it.

#include <cstdint>
#include <span>
#include <vector>

#include "profile/raw_profile.h"

namespace ember::collector {

// What a native frame is to the merge.
enum class NativeRole : uint8_t {
  kOther,
  kEval,          // in the evaluation loop (the interpreter's eval module, eval_loop_ranges())
  kAnonymousCode, // code in anonymous or JIT memory: a -X perf trampoline when next to an eval frame
};

// One Python frame as the merge sees it: already a RawFrame of the profile's kPython module.
struct PythonMergeFrame {
  profile::RawFrame frame;
  // Entered from C: this frame and the frames above it (towards the leaf), up to the next entry
  // frame, were run by one native eval-loop call (see python::Frame::entry).
  bool entry = false;
};

enum class MergeOutcome : uint8_t {
  kMerged,                // as many eval frames as Python segments, each replaced
  kMergedBelowCut,        // native stack cut short: paired from the leaf, the rest put above it
  kFewerPythonSegments,   // from the root: the leaf-most eval frames left unpaired stay native
  kMorePythonSegments,    // from the root: the leaf-most Python segments left unpaired left out
  kNoEvalFrames,          // nothing to replace: the native stack is kept as it is
  kNoPythonFrames,        // the Python stack is empty: the native stack is kept as it is
};

struct MergeResult {
  MergeOutcome outcome = MergeOutcome::kNoPythonFrames;
  uint32_t eval_frames = 0;      // groups of adjacent eval-loop frames in the native stack
  uint32_t python_segments = 0;  // runs of Python frames ended by an entry frame
  uint32_t trampolines = 0;      // -X perf trampoline frames dropped with their eval frame
};

// `native` and `roles` are leaf first and of equal length; `python` is leaf first. A run of
// adjacent kEval frames is one eval-loop call (versions whose loop spans several functions).
// native_complete: the native unwind reached the outermost frame (not cut by the stack copy).
// `out` is cleared and receives the merged stack, leaf first.
MergeResult merge_python_stack(std::span<const profile::RawFrame> native,
                               std::span<const NativeRole> roles, bool native_complete,
                               std::span<const PythonMergeFrame> python,
                               std::vector<profile::RawFrame>& out);

}  // namespace ember::collector
