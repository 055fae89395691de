#pragma once
// Flame graphs as one self-contained, interactive SVG file: frames are static SVG (so the picture
// shows wherever SVG does, scripts or not), and inline CSS and JavaScript add details on hover,
// click to zoom, search with the matched share, and a reset. See flamegraph/README.md.

#include <cstdint>
#include <string>

#include "flamegraph/palette.h"
#include "profile/folded.h"
#include "profile/folded_views.h"

namespace ember::flamegraph {

struct SvgOptions {
  std::string title = "Flame Graph";
  std::string subtitle;       // e.g. "ember record -p 1234 · cpu-clock at 999 Hz · 12,345 samples"
  int width = 1200;           // pixels (--width); at least kMinWidth
  double min_width = 0.1;     // pixels: narrower frames are pruned with their children (--minwidth)
  int frame_height = 16;      // pixels, 1 of which separates one level from the next
  int font_size = 12;         // pixels
  bool inverted = false;      // icicle graph: the root at the top
  Palette palette = Palette::kHot;  // --colors: flamegraph.pl's palette names
  // What a value counts, in tooltips ("1,234 samples"). Empty: derived from the profile's
  // value_type/value_unit; nanoseconds are always shown as time ("12.35 ms of CPU").
  std::string count_name;
  // Bound on the document's size (--max-output-bytes): levels that would take it past this are
  // left out, and the graph says how many frames that was. A 2 KB profile can otherwise ask for
  // hundreds of MB of SVG.
  size_t max_bytes = SIZE_MAX;
};

inline constexpr int kMinWidth = 120;

// Never fails: every name, however hostile (markup, "]]>", control characters, invalid UTF-8),
// comes out escaped, and an empty profile gives a graph that says so.
std::string render_svg(const profile::FoldedStacks& stacks, const SvgOptions& options);
// The same from folded text as parsed (equal stacks need not be merged: the layout merges them).
std::string render_svg(const profile::FlatStacks& stacks, const SvgOptions& options);

// The sandwich view of one or more functions (--focus): the matched function in the middle row
// (or, when several functions matched, a row "all" with the functions on each side), its
// callers above it, nearest caller adjacent, and its callees below it, as one graph. Widths are
// shares of the samples through a match; clicking zooms within the callers or the callees.
std::string render_sandwich_svg(const profile::Sandwich& sandwich, const SvgOptions& options);

struct DiffOptions {
  SvgOptions svg;
  // Compare each frame's share of its profile (the baseline scaled to the current total);
  // false compares raw values (--no-normalize).
  bool normalize = true;
};

// The shape of `current`, each frame red where it grew and blue where it shrank against
// `baseline` (deeper colour for a bigger change), neutral grey where it did not change. Functions
// that are in the baseline but nowhere in `current` are listed under the subtitle.
std::string render_diff_svg(const profile::FoldedStacks& baseline,
                            const profile::FoldedStacks& current, const DiffOptions& options);

}  // namespace ember::flamegraph
