#include "flamegraph/flamegraph.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>
#include <unordered_map>

#include "common/checked.h"
#include "flamegraph/layout.h"
#include "flamegraph/palette.h"
#include "flamegraph/svg_document.h"
#include "flamegraph/text.h"
#include "flamegraph/value_format.h"

namespace ember::flamegraph {

namespace {

constexpr uint32_t kNoFrame = UINT32_MAX;
constexpr size_t kVanishedListed = 5;
constexpr size_t kVanishedNameChars = 60;

// The baseline's value on the same path (same names from the root) as each frame of the current
// layout, found by walking every baseline stack down the current frame tree as far as it goes.
struct BaselineMatch {
  std::vector<int64_t> value;  // per frame, in level order
  int64_t total = 0;
  struct Vanished {
    std::string name;
    int64_t value;
  };
  std::vector<Vanished> vanished;  // baseline functions in no current stack, largest first
};

BaselineMatch match_baseline(const profile::FoldedStacks& baseline,
                             const profile::FoldedStacks& current, const Layout& layout) {
  BaselineMatch match;
  std::vector<size_t> level_offset(layout.levels.size() + 1, 0);
  for (size_t d = 0; d < layout.levels.size(); ++d) {
    level_offset[d + 1] = level_offset[d] + layout.levels[d].size();
  }
  match.value.assign(level_offset.back(), 0);

  // Children of every drawn frame by (frame, name).
  std::unordered_map<uint64_t, uint32_t> child;
  child.reserve(level_offset.back());
  for (size_t d = 1; d < layout.levels.size(); ++d) {
    for (size_t i = 0; i < layout.levels[d].size(); ++i) {
      const Frame& f = layout.levels[d][i];
      uint64_t parent = level_offset[d - 1] + f.parent;
      child.emplace((parent << 32) | f.name, static_cast<uint32_t>(level_offset[d] + i));
    }
  }

  // Baseline names in the current profile's ids (the canonical ones the layout uses).
  std::unordered_map<std::string_view, uint32_t> current_id;
  current_id.reserve(current.names.size());
  const auto& current_strings = current.names.strings();
  for (uint32_t id = 0; id < current_strings.size(); ++id) current_id.try_emplace(current_strings[id], id);
  const std::vector<uint32_t> canonical = canonical_ids(current.names);
  std::vector<bool> in_current(current_strings.size(), false);
  for (const auto& stack : current.stacks) {
    if (stack.value <= 0) continue;
    for (profile::StringId id : stack.frames) {
      if (id.value < canonical.size()) in_current[canonical[id.value]] = true;
    }
  }
  const auto& base_strings = baseline.names.strings();
  const std::vector<uint32_t> base_canonical = canonical_ids(baseline.names);
  std::vector<uint32_t> mapped(base_strings.size(), kNoFrame);
  std::vector<bool> vanished(base_strings.size(), false);
  for (uint32_t id = 0; id < base_strings.size(); ++id) {
    auto it = current_id.find(base_strings[id]);
    if (it != current_id.end()) mapped[id] = it->second;
    vanished[id] = it == current_id.end() || !in_current[it->second];
  }

  // Per canonical baseline name: its value in stacks through it, counted once per stack even
  // when it recurses.
  std::vector<int64_t> vanished_value(base_strings.size(), 0);
  std::vector<size_t> last_counted(base_strings.size(), SIZE_MAX);
  const bool has_root = !layout.levels.empty();
  for (size_t s = 0; s < baseline.stacks.size(); ++s) {
    const auto& stack = baseline.stacks[s];
    if (stack.value <= 0) continue;
    match.total = common::saturating_add<int64_t>(match.total, stack.value);
    uint32_t frame = has_root ? 0 : kNoFrame;
    if (frame != kNoFrame) match.value[frame] = common::saturating_add<int64_t>(match.value[frame], stack.value);
    for (profile::StringId id : stack.frames) {
      if (id.value >= base_strings.size()) {
        frame = kNoFrame;
        continue;
      }
      if (vanished[id.value]) {
        uint32_t name = base_canonical[id.value];
        if (last_counted[name] != s) {
          last_counted[name] = s;
          vanished_value[name] = common::saturating_add<int64_t>(vanished_value[name], stack.value);
        }
      }
      if (frame == kNoFrame) continue;
      auto next = mapped[id.value] == kNoFrame
                      ? child.end()
                      : child.find((uint64_t{frame} << 32) | mapped[id.value]);
      if (next == child.end()) {
        frame = kNoFrame;  // the rest of this stack is not drawn; keep counting vanished names
        continue;
      }
      frame = next->second;
      match.value[frame] = common::saturating_add<int64_t>(match.value[frame], stack.value);
    }
  }
  for (uint32_t id = 0; id < base_strings.size(); ++id) {
    if (vanished_value[id] > 0 && !base_strings[id].empty()) {
      match.vanished.push_back({base_strings[id], vanished_value[id]});
    }
  }
  std::sort(match.vanished.begin(), match.vanished.end(), [](const auto& a, const auto& b) {
    return a.value != b.value ? a.value > b.value : a.name < b.name;
  });
  return match;
}

// Red where a frame grew, blue where it shrank; the tooltip gives both values and the change.
class DiffStyle final : public FrameStyle {
 public:
  DiffStyle(const profile::FoldedStacks& current, const DiffOptions& options,
            const Layout& layout, const BaselineMatch& match)
      : format_(current.value_type, current.value_unit, options.svg.count_name),
        normalize_(options.normalize && match.total > 0),
        current_total_(static_cast<double>(layout.total)),
        baseline_total_(static_cast<double>(match.total)),
        baseline_(match.value) {
    // Compared values: shares scaled to the current total, or raw values.
    factor_ = normalize_ ? current_total_ / baseline_total_ : 1.0;
    level_offset_.push_back(0);
    for (const auto& level : layout.levels) level_offset_.push_back(level_offset_.back() + level.size());
    for (size_t d = 0; d < layout.levels.size(); ++d) {
      for (size_t i = 0; i < layout.levels[d].size(); ++i) {
        max_change_ = std::max(max_change_, std::abs(change(d, i, layout.levels[d][i])));
      }
    }
    // Below this a difference is rounding from the scaling, not a change.
    epsilon_ = 1e-9 * std::max(current_total_, 1.0);
  }

  void append_class(std::string& out, size_t depth, size_t index, const Frame& frame) override {
    double delta = change(depth, index, frame);
    int level = 0;
    if (std::abs(delta) > epsilon_ && max_change_ > 0) {
      // The square root keeps modest changes visible next to the largest one.
      level = static_cast<int>(std::ceil(std::sqrt(std::abs(delta) / max_change_) * kDiffLevels));
      level = std::clamp(level, 1, kDiffLevels);
    }
    append_diff_class(out, delta > 0, level);
  }

  void append_details(std::string& out, size_t depth, size_t index, const Frame& frame) override {
    int64_t before = baseline_[level_offset_[depth] + index];
    text_.clear();
    format_.append_change(text_, before, frame.value);
    if (normalize_) {
      text_ += ", share ";
      append_percent(text_, static_cast<double>(before), baseline_total_);
      text_ += " → ";
      append_percent(text_, static_cast<double>(frame.value), current_total_);
    }
    text_ += ", ";
    double compared_before = static_cast<double>(before) * factor_;
    double delta = change(depth, index, frame);
    if (before == 0) {
      text_ += "new";
    } else if (std::abs(delta) <= epsilon_) {
      text_ += "unchanged";
    } else {
      fmt::format_to(std::back_inserter(text_), "{:+.1f}%", 100.0 * delta / compared_before);
    }
    append_xml_escaped(out, text_);
  }

 private:
  double change(size_t depth, size_t index, const Frame& frame) const {
    double before = static_cast<double>(baseline_[level_offset_[depth] + index]) * factor_;
    return static_cast<double>(frame.value) - before;
  }

  ValueFormat format_;
  bool normalize_;
  double current_total_;
  double baseline_total_;
  double factor_ = 1.0;
  double max_change_ = 0;
  double epsilon_ = 0;
  const std::vector<int64_t>& baseline_;
  std::vector<size_t> level_offset_;
  std::string text_;
};

std::string legend(const DiffOptions& options, const profile::FoldedStacks& current,
                   int64_t baseline_total, int64_t current_total) {
  ValueFormat format(current.value_type, current.value_unit, options.svg.count_name);
  std::string out = "Red grew, blue shrank against the baseline (";
  out += options.normalize ? "shares of each total" : "raw values";
  out += "; ";
  format.append_change(out, baseline_total, current_total);
  out += ')';
  return out;
}

std::string vanished_note(const BaselineMatch& match) {
  std::string out = "Only in the baseline: ";
  size_t listed = std::min(match.vanished.size(), kVanishedListed);
  for (size_t i = 0; i < listed; ++i) {
    if (i != 0) out += ", ";
    std::string name = displayable(match.vanished[i].name);
    if (code_points(name) > kVanishedNameChars) {
      name = std::string(first_code_points(name, kVanishedNameChars - 2)) + "..";
    }
    out += name;
    out += " (";
    append_percent(out, static_cast<double>(match.vanished[i].value),
                   static_cast<double>(match.total));
    out += ')';
  }
  if (match.vanished.size() > listed) {
    fmt::format_to(std::back_inserter(out), " and {} more", match.vanished.size() - listed);
  }
  return out;
}

}  // namespace

std::string render_diff_svg(const profile::FoldedStacks& baseline,
                            const profile::FoldedStacks& current, const DiffOptions& options) {
  Geometry g = geometry(options.svg);
  Layout layout = layout_frames(current, g.min_share);
  std::string pruned = prune_to_budget(layout, current.names, options.svg.max_bytes);
  BaselineMatch match = match_baseline(baseline, current, layout);
  DiffStyle style(current, options, layout, match);
  std::string palette;
  append_diff_palette_css(palette);
  Document doc;
  doc.options = &options.svg;
  doc.names = &current.names;
  doc.layout = &layout;
  doc.palette_css = palette;
  doc.notes.push_back(legend(options, current, match.total, layout.total));
  if (!match.vanished.empty()) doc.notes.push_back(vanished_note(match));
  if (!pruned.empty()) doc.notes.push_back(pruned);
  // A plain background: the neutral grey of unchanged frames must stand out from it.
  doc.background_top = "#ffffff";
  doc.background_bottom = "#f4f4f4";
  return write_svg(doc, style);
}

}  // namespace ember::flamegraph
