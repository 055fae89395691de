#include "flamegraph/flamegraph.h"

#include "flamegraph/layout.h"
#include "flamegraph/palette.h"
#include "flamegraph/svg_document.h"
#include "flamegraph/text.h"
#include "flamegraph/value_format.h"
#include "profile/sample_types.h"

namespace ember::flamegraph {

namespace {

// Colour by name, tooltip "1,234 samples, 12.34%".
class PlainStyle final : public FrameStyle {
 public:
  PlainStyle(const profile::FoldedStacks& stacks, const SvgOptions& options, int64_t total)
      : names_(stacks.names),
        format_(stacks.value_type, stacks.value_unit, options.count_name),
        total_(static_cast<double>(total)),
        classes_(names_.size() + 1) {}

  void append_class(std::string& out, size_t, size_t, const Frame& frame) override {
    // Hashing once per distinct name, not once per frame.
    size_t slot = frame.name < names_.size() ? frame.name : names_.size();
    std::string& cls = classes_[slot];
    if (cls.empty()) flamegraph::append_class(cls, frame_color(frame_name(names_, frame)));
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
    append_xml_escaped(out, text_);
  }

 private:
  const profile::StringTable& names_;
  ValueFormat format_;
  double total_;
  std::vector<std::string> classes_;  // per name id; the last slot is the root
  std::string text_;
};

}  // namespace

std::string render_svg(const profile::FoldedStacks& stacks, const SvgOptions& options) {
  Geometry g = geometry(options);
  Layout layout = layout_frames(stacks, g.min_share);
  std::string pruned = prune_to_budget(layout, stacks.names, options.max_bytes);
  PlainStyle style(stacks, options, layout.total);
  std::string palette;
  append_palette_css(palette);
  Document doc;
  doc.options = &options;
  doc.names = &stacks.names;
  doc.layout = &layout;
  doc.palette_css = palette;
  if (!pruned.empty()) doc.notes.push_back(pruned);
  // A wall-time graph says how to read its off-CPU frames.
  bool off_cpu = false;
  for (const auto& stack : stacks.stacks) {
    if (!stack.frames.empty() && profile::is_off_cpu_frame(stacks.names.get(stack.frames.back()))) {
      off_cpu = true;
      break;
    }
  }
  if (off_cpu) {
    doc.notes.push_back(
        "Wall time: on-CPU time plus off-CPU time charged to the stack a thread left the CPU with. "
        "Purple [off-cpu: blocked]: asleep (I/O, locks, poll, sleep); pink [off-cpu: runnable]: "
        "waiting for a CPU.");
  }
  // flamegraph.pl's background: a reader who knows those graphs knows this one.
  doc.background_top = "#eeeeee";
  doc.background_bottom = "#eeeeb0";
  return write_svg(doc, style);
}

}  // namespace ember::flamegraph
