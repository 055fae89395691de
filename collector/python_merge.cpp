#include "collector/python_merge.h"

#include <algorithm>

namespace ember::collector {

namespace {

struct Range {
  uint32_t begin = 0, end = 0;  // [begin, end) indices, leaf first
};

// Stacks are a few hundred frames at most; the scratch vectors keep their capacity per thread.
thread_local std::vector<Range> t_segments;
thread_local std::vector<Range> t_groups;
thread_local std::vector<int32_t> t_paired;  // per eval group: the segment it is replaced by, or -1

}  // namespace

MergeResult merge_python_stack(std::span<const profile::RawFrame> native,
                               std::span<const NativeRole> roles, bool native_complete,
                               std::span<const PythonMergeFrame> python,
                               std::vector<profile::RawFrame>& out) {
  out.clear();
  MergeResult result;
  const size_t native_size = std::min(native.size(), roles.size());

  // Python segments, leaf first: each ends (towards the root) at an entry frame. Frames past the
  // last entry frame (a chain without one at its root) make a segment of their own.
  std::vector<Range>& segments = t_segments;
  segments.clear();
  uint32_t start = 0;
  for (uint32_t i = 0; i < python.size(); ++i) {
    if (python[i].entry || i + 1 == python.size()) {
      segments.push_back(Range{start, i + 1});
      start = i + 1;
    }
  }
  // Eval-loop calls, leaf first: runs of adjacent eval frames.
  std::vector<Range>& groups = t_groups;
  groups.clear();
  for (uint32_t i = 0; i < native_size; ++i) {
    if (roles[i] != NativeRole::kEval) continue;
    if (!groups.empty() && groups.back().end == i) {
      groups.back().end = i + 1;
    } else {
      groups.push_back(Range{i, i + 1});
    }
  }
  const auto n = static_cast<uint32_t>(groups.size());
  const auto m = static_cast<uint32_t>(segments.size());
  result.eval_frames = n;
  result.python_segments = m;

  auto keep_native = [&](MergeOutcome outcome) {
    out.assign(native.begin(), native.begin() + static_cast<std::ptrdiff_t>(native_size));
    result.outcome = outcome;
    return result;
  };
  if (m == 0) return keep_native(MergeOutcome::kNoPythonFrames);
  if (n == 0 && native_complete) return keep_native(MergeOutcome::kNoEvalFrames);

  // Pair eval groups with segments: from the root when the native stack is whole (the callers
  // near the root are what changed least since the sample), from the leaf when it was cut short
  // (its root end is missing; Python segments past the cut go above it).
  std::vector<int32_t>& paired = t_paired;
  paired.assign(n, -1);
  const uint32_t pairs = std::min(n, m);
  uint32_t above_cut = 0;  // segments [pairs, m) placed above a cut native stack
  if (native_complete) {
    for (uint32_t k = 0; k < pairs; ++k) paired[n - 1 - k] = static_cast<int32_t>(m - 1 - k);
    result.outcome = n == m  ? MergeOutcome::kMerged
                     : n > m ? MergeOutcome::kFewerPythonSegments
                             : MergeOutcome::kMorePythonSegments;
  } else {
    for (uint32_t k = 0; k < pairs; ++k) paired[k] = static_cast<int32_t>(k);
    if (m >= n) {
      above_cut = m - n;
      result.outcome = MergeOutcome::kMergedBelowCut;
    } else {
      result.outcome = MergeOutcome::kFewerPythonSegments;
    }
  }

  auto emit_segment = [&](const Range& seg) {
    for (uint32_t j = seg.begin; j < seg.end; ++j) out.push_back(python[j].frame);
  };
  out.reserve(native_size + python.size());
  uint32_t next_group = 0;
  for (uint32_t i = 0; i < native_size;) {
    if (next_group < n && groups[next_group].begin == i) {
      const Range& g = groups[next_group];
      const int32_t seg = paired[next_group];
      ++next_group;
      if (seg < 0) {
        out.insert(out.end(), native.begin() + g.begin, native.begin() + g.end);
        i = g.end;
        continue;
      }
      emit_segment(segments[static_cast<uint32_t>(seg)]);
      i = g.end;
      // 3.12+ -X perf: the eval loop was called through a trampoline in anonymous memory (its
      // caller); it stands for the same Python function and goes with it.
      if (i < native_size && roles[i] == NativeRole::kAnonymousCode) {
        ++result.trampolines;
        ++i;
      }
      continue;
    }
    out.push_back(native[i]);
    ++i;
  }
  for (uint32_t k = m - above_cut; k < m; ++k) emit_segment(segments[k]);
  return result;
}

}  // namespace ember::collector
