#include "flamegraph/flamegraph.h"

#include "flamegraph/layout.h"
#include "flamegraph/palette.h"
#include "flamegraph/svg_document.h"
#include "flamegraph/text.h"
#include "flamegraph/value_format.h"
#include "profile/sample_types.h"

namespace ember::flamegraph {

namespace {

// What a plain graph needs of its stacks besides the layout, FoldedStacks or FlatStacks.
struct Named {
  const profile::StringTable& names;
  const std::vector<std::string>& sources;
  std::string_view value_type, value_unit;
  bool off_cpu = false;  // some stack ends in an off-CPU frame
};

template <class Stacks>
Named named(const Stacks& stacks, bool off_cpu) {
  return Named{stacks.names, stacks.sources, stacks.value_type, stacks.value_unit, off_cpu};
}

// Colour by name, tooltip "1,234 samples, 12.34%; file:line".
class PlainStyle final : public FrameStyle {
 public:
  PlainStyle(const Named& stacks, const SvgOptions& options, int64_t total)
      : names_(stacks.names),
        sources_(stacks.sources),
        format_(stacks.value_type, stacks.value_unit, options.count_name),
        total_(static_cast<double>(total)),
        palette_(options.palette),
        classes_(names_.size() + 1) {}

  void append_class(std::string& out, size_t, size_t, const Frame& frame) override {
    // Hashing once per distinct name, not once per frame.
    size_t slot = frame.name < names_.size() ? frame.name : names_.size();
    std::string& cls = classes_[slot];
    if (cls.empty()) flamegraph::append_class(cls, frame_color(frame_name(names_, frame), palette_));
    out += cls;
  }

  void append_details(std::string& out, size_t, size_t, const Frame& frame) override {
    text_.clear();
    format_.append(text_, frame.value);
    text_ += ", ";
    append_percent(text_, static_cast<double>(frame.value), total_);
    std::string_view name = frame_name(names_, frame);
    if (name == profile::kBlockedFrame) {
      text_ += "; off CPU, asleep: I/O, a lock, poll, a sleep";
    } else if (name == profile::kRunnableFrame) {
      text_ += "; off CPU, runnable: preempted, waiting for a CPU";
    }
    if (frame.name != Frame::kRoot) {
      std::string_view source = frame.name < sources_.size() ? std::string_view(sources_[frame.name]) : "";
      if (!source.empty()) {
        text_ += "; ";
        text_ += displayable(source);
      }
    }
    append_xml_escaped(out, text_);
  }

 private:
  const profile::StringTable& names_;
  const std::vector<std::string>& sources_;
  ValueFormat format_;
  double total_;
  Palette palette_;
  std::vector<std::string> classes_;  // per name id; the last slot is the root
  std::string text_;
};

// What a plain graph and a sandwich share: palette, notes, background.
std::string write_plain(const Named& stacks, const SvgOptions& options, Document& doc, Layout& layout) {
  std::string pruned = prune_to_budget(layout, stacks.names, options.max_bytes);
  PlainStyle style(stacks, options, layout.total);
  std::string palette;
  append_palette_css(palette, options.palette);
  doc.options = &options;
  doc.names = &stacks.names;
  doc.layout = &layout;
  doc.palette_css = palette;
  if (!pruned.empty()) doc.notes.push_back(pruned);
  // A wall-time graph says how to read its off-CPU frames.
  if (stacks.off_cpu) {
    doc.notes.push_back(
        "Wall time: on-CPU time plus off-CPU time charged to the stack a thread left the CPU with. "
        "Purple [off-cpu: blocked]: asleep (I/O, locks, poll, sleep); pink [off-cpu: runnable]: "
        "waiting for a CPU.");
  }
  // flamegraph.pl's background: a reader who knows those graphs knows this one.
  doc.background_top = "#eeeeee";
  doc.background_bottom = "#eeeeb0";
  if (doc.rows.size() > layout.levels.size()) doc.rows.resize(layout.levels.size());
  if (doc.trees.size() > layout.levels.size()) doc.trees.resize(layout.levels.size());
  return write_svg(doc, style);
}

// A sandwich's two trees rooted at the same frames: level 1 of each is the matched functions,
// the same widths in the same (name) order. With one function, it becomes the root.
void lift_single_function(Layout& tree) {
  if (tree.levels.size() < 2 || tree.levels[1].size() != 1) return;
  const Frame only = tree.levels[1].front();
  if (only.value != tree.total) return;
  tree.levels.erase(tree.levels.begin());
  tree.levels[0].front().parent = 0;
}

bool ends_off_cpu(const profile::FoldedStacks& stacks) {
  for (const auto& stack : stacks.stacks) {
    if (!stack.frames.empty() && profile::is_off_cpu_frame(stacks.names.get(stack.frames.back()))) return true;
  }
  return false;
}

}  // namespace

std::string render_svg(const profile::FoldedStacks& stacks, const SvgOptions& options) {
  Geometry g = geometry(options);
  Layout layout = layout_frames(stacks, g.min_share);
  Document doc;
  return write_plain(named(stacks, ends_off_cpu(stacks)), options, doc, layout);
}

std::string render_svg(const profile::FlatStacks& stacks, const SvgOptions& options) {
  Geometry g = geometry(options);
  Layout layout = layout_frames(stacks, g.min_share);
  bool off_cpu = false;
  for (const auto& s : stacks.stacks) {
    if (s.length > 0 && profile::is_off_cpu_frame(stacks.names.get(stacks.frames[s.offset + s.length - 1]))) {
      off_cpu = true;
      break;
    }
  }
  Document doc;
  return write_plain(named(stacks, off_cpu), options, doc, layout);
}

std::string render_sandwich_svg(const profile::Sandwich& sandwich, const SvgOptions& options) {
  Geometry g = geometry(options);
  const profile::FoldedStacks& stacks = sandwich.callees;
  Layout callees = layout_frames(stacks, g.min_share);
  Layout callers = layout_frames(stacks.names, sandwich.callers, g.min_share);
  lift_single_function(callees);
  lift_single_function(callers);
  // One layout: the shared root, the callee levels, then the caller levels (whose parents are
  // on the level before them, as everywhere: the root, or the caller level nearer the root).
  Layout layout = std::move(callees);
  const size_t below = layout.levels.empty() ? 0 : layout.levels.size() - 1;
  const size_t above = callers.levels.empty() ? 0 : callers.levels.size() - 1;
  for (size_t d = 1; d < callers.levels.size(); ++d) layout.levels.push_back(std::move(callers.levels[d]));
  Document doc;
  // Rows from the top: the furthest callers first, the root, then the callees going down.
  doc.rows.push_back(above);
  doc.trees.push_back(0);
  for (size_t d = 1; d <= below; ++d) {
    doc.rows.push_back(above + d);
    doc.trees.push_back(1);
  }
  for (size_t d = 1; d <= above; ++d) {
    doc.rows.push_back(above - d);
    doc.trees.push_back(2);
  }
  doc.notes.push_back("Sandwich: callers above the middle row, nearest first; callees below it");
  return write_plain(named(stacks, ends_off_cpu(stacks)), options, doc, layout);
}

}  // namespace ember::flamegraph
