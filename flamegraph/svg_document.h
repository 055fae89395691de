#pragma once
// The SVG document shared by plain and differential flame graphs: header, buttons, frames,
// labels, and the JSON the script reads. What differs per frame (colour, tooltip details) comes
// from a FrameStyle.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "flamegraph/flamegraph.h"
#include "flamegraph/layout.h"

namespace ember::flamegraph {

class FrameStyle {
 public:
  virtual ~FrameStyle() = default;
  // Appends the frame's CSS class (a colour of the palette).
  virtual void append_class(std::string& out, size_t depth, size_t index, const Frame& frame) = 0;
  // Appends what the tooltip says after the name, inside parentheses, as XML-escaped text:
  // "1,234 samples, 12.34%".
  virtual void append_details(std::string& out, size_t depth, size_t index,
                              const Frame& frame) = 0;
};

// Options within the ranges the layout can draw.
struct Geometry {
  int width = 0;
  double pad = 10;      // left and right margin
  double usable = 0;    // width - 2 * pad: the root's width
  int frame_height = 0;
  int font_size = 0;
  double min_share = 0;  // min_width / usable
};
Geometry geometry(const SvgOptions& options);

struct Document {
  const SvgOptions* options = nullptr;
  const profile::StringTable* names = nullptr;  // of the stacks `layout` was made from
  const Layout* layout = nullptr;
  std::string_view palette_css;
  std::vector<std::string> notes;     // plain-text lines under the subtitle
  std::string_view background_top;    // colours of the background gradient
  std::string_view background_bottom;
  // Where each level is drawn, in rows from the top; empty: the root at the bottom (or at the
  // top when inverted) and each level one row further.
  std::vector<size_t> rows;
  // Which tree each level belongs to when one graph holds two trees that share the root
  // (0 the root, 1 and 2 the trees: a sandwich's callees and callers); empty: one tree. The
  // script zooms within one tree and counts matches in tree 1.
  std::vector<int> trees;
};

std::string write_svg(const Document& document, FrameStyle& style);

// The name a frame shows: "all" for the root, else its name in `names` ("" when out of range).
std::string_view frame_name(const profile::StringTable& names, const Frame& frame);

}  // namespace ember::flamegraph
