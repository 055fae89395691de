#pragma once
// Stacks merged into a tree of frames and laid out as a flame graph: each frame spans
// [start, start + value) in value units, children from their parent's left edge in name order,
// the parent's own (self) value to the right of its children, as flamegraph.pl draws them.

#include <cstdint>
#include <span>
#include <vector>

#include "profile/folded.h"

namespace ember::flamegraph {

struct Frame {
  static constexpr uint32_t kRoot = UINT32_MAX;  // `name` of the root frame ("all")
  uint32_t name = kRoot;  // a StringId of the input; equal names always get the same id
  uint32_t parent = 0;    // index of the parent frame in the level above
  int64_t start = 0;
  int64_t value = 0;
};

struct Layout {
  // levels[0] is the root alone, levels[d] the frames at depth d sorted by start. A frame is in
  // the layout only if its parent is.
  std::vector<std::vector<Frame>> levels;
  int64_t total = 0;  // the root's value: the sum of all positive stack values (saturated)

  size_t frame_count() const;
};

// For each StringId of `names`, the smallest id with the same text (a StringTable built with
// append() may hold a string twice); frames with equal names must be equal.
std::vector<uint32_t> canonical_ids(const profile::StringTable& names);

// Frames whose value is below `min_share` of the total are pruned with their descendants (which
// cannot be wider). Stacks with a value <= 0 are ignored; frame ids outside the table name ""
// frames.
Layout layout_frames(const profile::FoldedStacks& stacks, double min_share);
Layout layout_frames(const profile::StringTable& names, std::span<const profile::FoldedStacks::Stack> stacks,
                     double min_share);
Layout layout_frames(const profile::FlatStacks& stacks, double min_share);

// Drops the deepest levels until an SVG of the layout fits in `max_bytes` (by a generous
// estimate per frame and name byte). Returns a note for the graph ("12,345 frames deeper than
// level 840 are not drawn: ...") or "" when everything fits.
std::string prune_to_budget(Layout& layout, const profile::StringTable& names, size_t max_bytes);

}  // namespace ember::flamegraph
