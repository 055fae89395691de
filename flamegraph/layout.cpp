#include "flamegraph/layout.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>

#include "common/checked.h"

namespace ember::flamegraph {

namespace {

// Ranks of names in byte order; equal strings share a rank.
struct NameOrder {
  std::vector<uint32_t> canonical;  // id -> smallest id with the same text
  std::vector<uint32_t> rank;       // id -> rank of its text
};

NameOrder order_names(const profile::StringTable& names) {
  NameOrder order;
  const auto& strings = names.strings();
  std::vector<uint32_t> ids(strings.size());
  std::iota(ids.begin(), ids.end(), 0u);
  std::sort(ids.begin(), ids.end(), [&](uint32_t a, uint32_t b) {
    int c = std::string_view(strings[a]).compare(strings[b]);
    return c != 0 ? c < 0 : a < b;
  });
  order.canonical.resize(strings.size());
  order.rank.resize(strings.size());
  uint32_t rank = 0;
  uint32_t first = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i == 0 || strings[ids[i]] != strings[ids[i - 1]]) {
      rank = static_cast<uint32_t>(i);
      first = ids[i];  // ids of equal strings are sorted ascending: this one is the smallest
    }
    order.rank[ids[i]] = rank;
    order.canonical[ids[i]] = first;
  }
  return order;
}

}  // namespace

std::string prune_to_budget(Layout& layout, const profile::StringTable& names, size_t max_bytes) {
  // A frame is a rect with its tooltip, maybe a label, and an entry in the script's data; its
  // name appears up to three times, XML-escaped. The scripts and styles come once.
  constexpr size_t kDocumentBytes = 64 * 1024;
  constexpr size_t kFrameBytes = 320;
  constexpr size_t kBytesPerNameByte = 4;
  size_t used = kDocumentBytes;
  for (size_t d = 0; d < layout.levels.size(); ++d) {
    size_t level_bytes = 0;
    for (const Frame& f : layout.levels[d]) {
      size_t name = f.name < names.size() ? names.get(profile::StringId{f.name}).size() : 0;
      level_bytes += kFrameBytes + kBytesPerNameByte * name;
    }
    if (d == 0 || used + level_bytes <= max_bytes) {
      used += level_bytes;
      continue;
    }
    size_t dropped = 0;
    for (size_t k = d; k < layout.levels.size(); ++k) dropped += layout.levels[k].size();
    layout.levels.resize(d);
    return fmt::format("{} frames deeper than level {} are not drawn: the SVG would pass the output "
                       "limit of {} bytes (--max-output-bytes raises it)",
                       dropped, d - 1, max_bytes);
  }
  return {};
}

size_t Layout::frame_count() const {
  size_t n = 0;
  for (const auto& level : levels) n += level.size();
  return n;
}

std::vector<uint32_t> canonical_ids(const profile::StringTable& names) {
  return order_names(names).canonical;
}

namespace {

// Builds the tree from every stack that `for_each_stack(visit)` hands to visit(frames, value).
template <class ForEachStack>
Layout layout_stacks(const profile::StringTable& names, ForEachStack for_each_stack, double min_share) {
  Layout layout;
  NameOrder order = order_names(names);
  const uint32_t table_size = static_cast<uint32_t>(order.rank.size());

  // Each stack as a run of (rank, canonical id) in one flat buffer: sorting compares ranks only,
  // and a contiguous buffer keeps the comparisons in cache.
  struct Run {
    size_t offset;
    uint32_t length;
    int64_t value;
  };
  std::vector<Run> runs;
  std::vector<uint32_t> ranks;
  std::vector<uint32_t> ids;
  size_t frames = 0;
  size_t count = 0;
  for_each_stack([&](std::span<const profile::StringId> stack, int64_t value) {
    if (value <= 0) return;
    frames += stack.size();
    ++count;
  });
  runs.reserve(count);
  ranks.reserve(frames);
  ids.reserve(frames);
  for_each_stack([&](std::span<const profile::StringId> stack, int64_t value) {
    if (value <= 0) return;
    runs.push_back(Run{ranks.size(), static_cast<uint32_t>(stack.size()), value});
    for (profile::StringId id : stack) {
      uint32_t v = id.value < table_size ? id.value : 0;  // out of range: the empty name
      ranks.push_back(order.rank[v]);
      ids.push_back(order.canonical[v]);
    }
    layout.total = common::saturating_add<int64_t>(layout.total, value);
  });
  if (runs.empty()) return layout;
  const double min_value = min_share * static_cast<double>(layout.total);

  // Lexicographic by name, except that a stack sorts after the stacks it is a prefix of: a
  // frame's own value then comes after its children, and every frame starts where the values
  // of the stacks sorted before it end.
  auto less = [&](const Run& a, const Run& b) {
    const uint32_t* pa = ranks.data() + a.offset;
    const uint32_t* pb = ranks.data() + b.offset;
    uint32_t n = std::min(a.length, b.length);
    for (uint32_t i = 0; i < n; ++i) {
      if (pa[i] != pb[i]) return pa[i] < pb[i];
    }
    return a.length > b.length;
  };
  std::sort(runs.begin(), runs.end(), less);

  struct Open {
    uint32_t name;
    int64_t start;
    int64_t value;
  };
  std::vector<Open> path;  // path[0] is the root, path[d] the open frame at depth d
  path.push_back(Open{Frame::kRoot, 0, 0});
  // Closes the deepest open frame: its subtree is complete, so its value is final.
  auto close = [&]() {
    Open node = path.back();
    path.pop_back();
    size_t depth = path.size();
    if (!path.empty()) path.back().value = common::saturating_add<int64_t>(path.back().value, node.value);
    if (static_cast<double>(node.value) < min_value) return;
    if (layout.levels.size() <= depth) layout.levels.resize(depth + 1);
    // Frames close children first, so the parent is the next frame its level will receive.
    uint32_t parent = depth == 0 ? 0 : static_cast<uint32_t>(layout.levels[depth - 1].size());
    layout.levels[depth].push_back(Frame{node.name, parent, node.start, node.value});
  };

  int64_t cursor = 0;
  const Run* previous = nullptr;
  for (const Run& run : runs) {
    uint32_t common = 0;
    if (previous != nullptr) {
      uint32_t n = std::min(previous->length, run.length);
      const uint32_t* pa = ranks.data() + previous->offset;
      const uint32_t* pb = ranks.data() + run.offset;
      while (common < n && pa[common] == pb[common]) ++common;
    }
    while (path.size() > common + 1) close();
    for (uint32_t i = common; i < run.length; ++i) {
      path.push_back(Open{ids[run.offset + i], cursor, 0});
    }
    path.back().value = common::saturating_add<int64_t>(path.back().value, run.value);
    cursor = common::saturating_add<int64_t>(cursor, run.value);
    previous = &run;
  }
  while (!path.empty()) close();
  return layout;
}

}  // namespace

Layout layout_frames(const profile::FoldedStacks& stacks, double min_share) {
  return layout_frames(stacks.names, stacks.stacks, min_share);
}

Layout layout_frames(const profile::StringTable& names, std::span<const profile::FoldedStacks::Stack> stacks,
                     double min_share) {
  return layout_stacks(
      names,
      [&](auto&& visit) {
        for (const auto& s : stacks) visit(std::span<const profile::StringId>(s.frames), s.value);
      },
      min_share);
}

Layout layout_frames(const profile::FlatStacks& stacks, double min_share) {
  return layout_stacks(
      stacks.names,
      [&](auto&& visit) {
        for (const auto& s : stacks.stacks) visit(stacks.frames_of(s), s.value);
      },
      min_share);
}

}  // namespace ember::flamegraph
