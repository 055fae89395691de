#include "flamegraph/svg_document.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "flamegraph/assets.h"
#include "flamegraph/text.h"

namespace ember::flamegraph {

namespace {

constexpr std::string_view kRootName = "all";
// Average advance of a Verdana character per pixel of font size, as flamegraph.pl estimates it:
// labels are cut to what fits without measuring text.
constexpr double kCharWidth = 0.59;

// Appends a value given in hundredths: "12.3", "12.34", "12". Two decimals keep frames of
// min_width (0.1 px) accurate and adjacent frames tiled without gaps.
void append_hundredths(std::string& out, int64_t h) {
  if (h < 0) {
    out += '-';
    h = -h;
  }
  fmt::format_to(std::back_inserter(out), "{}", h / 100);
  int64_t frac = h % 100;
  if (frac == 0) return;
  out += '.';
  out += static_cast<char>('0' + frac / 10);
  if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
}

int64_t hundredths(double v) { return std::llround(v * 100.0); }

// start + value, which only a saturated total could make overflow.
int64_t end_of(const Frame& f) {
  int64_t end;
  return __builtin_add_overflow(f.start, f.value, &end) ? INT64_MAX : end;
}

void append_number(std::string& out, double v) { append_hundredths(out, hundredths(v)); }

void append_text_element(std::string& out, std::string_view attributes, std::string_view text) {
  out += "<text ";
  out += attributes;
  out += '>';
  append_xml_escaped(out, displayable(text));
  out += "</text>\n";
}

// A frame name as the page shows it, prepared once per distinct name.
struct ShownName {
  std::string display;  // displayable(name)
  std::string xml;      // escaped display
  size_t points = 0;    // code points of display
  uint32_t data_id = 0; // index in the JSON names array
};

}  // namespace

Geometry geometry(const SvgOptions& options) {
  Geometry g;
  g.width = std::max(options.width, kMinWidth);
  g.usable = g.width - 2 * g.pad;
  g.frame_height = std::clamp(options.frame_height, 4, 200);
  g.font_size = std::clamp(options.font_size, 4, 100);
  double min_width = std::isfinite(options.min_width) ? options.min_width : 0.0;
  g.min_share = std::clamp(min_width, 0.0, g.usable) / g.usable;
  return g;
}

std::string_view frame_name(const profile::StringTable& names, const Frame& frame) {
  if (frame.name == Frame::kRoot) return kRootName;
  return names.contains(profile::StringId{frame.name}) ? names.get(profile::StringId{frame.name})
                                                       : std::string_view();
}

std::string write_svg(const Document& doc, FrameStyle& style) {
  const SvgOptions& options = *doc.options;
  const Layout& layout = *doc.layout;
  const profile::StringTable& names = *doc.names;
  const Geometry g = geometry(options);
  const int fs = g.font_size;
  const int fh = g.frame_height;
  const size_t depth = layout.levels.size();
  const double scale = layout.total > 0 ? g.usable / static_cast<double>(layout.total) : 0.0;
  const double char_width = std::round(fs * kCharWidth * 100) / 100;
  // Baseline of a label inside its frame: centred on the rect, which is fh - 1 high.
  const double text_dy = std::round((fh - 1 + fs * 0.72) / 2 * 100) / 100;

  std::vector<std::string_view> lines;  // under the title
  if (!options.subtitle.empty()) lines.push_back(options.subtitle);
  for (const auto& note : doc.notes) lines.push_back(note);
  const double line_step = fs * 1.5;
  const double top = fs * 3 + line_step * static_cast<double>(lines.size());
  const double bottom = fs * 2 + 10;
  size_t rows = depth == 0 ? 2 : depth;
  if (!doc.rows.empty()) rows = *std::max_element(doc.rows.begin(), doc.rows.end()) + 1;
  const double height = std::ceil(top + static_cast<double>(rows * fh) + bottom);
  auto level_y = [&](size_t d) {
    if (d < doc.rows.size()) return top + static_cast<double>(doc.rows[d] * fh);
    return options.inverted ? top + static_cast<double>(d * fh)
                            : top + static_cast<double>((depth - 1 - d) * fh);
  };

  std::string out;
  // Sized once: a frame is about 200 bytes and its name up to three times (tooltip, label,
  // data); growing a multi-megabyte string copies it and touches fresh memory.
  size_t estimate = 32 * 1024 + doc.palette_css.size();
  for (const auto& level : layout.levels) {
    for (const Frame& f : level) estimate += 200 + 2 * frame_name(names, f).size();
  }
  out.reserve(estimate);
  auto it = std::back_inserter(out);

  out += "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
  fmt::format_to(it,
                 "<svg version=\"1.1\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
                 "xmlns=\"http://www.w3.org/2000/svg\">\n",
                 g.width, height);
  out += "<style>\n";
  out += assets::kStyle;
  fmt::format_to(it, "text{{font-size:{}px}}\n#fg-title{{font-size:{}px}}\n", fs, fs + 5);
  out += doc.palette_css;
  out += "</style>\n<script><![CDATA[\n";
  out += assets::kScript;
  out += "]]></script>\n";
  fmt::format_to(it,
                 "<defs><linearGradient id=\"fg-bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
                 "<stop offset=\"5%\" stop-color=\"{}\"/><stop offset=\"95%\" stop-color=\"{}\"/>"
                 "</linearGradient>"
                 // Zooming magnifies all frames; the clip keeps those outside the view out.
                 "<clipPath id=\"fg-clip\"><rect x=\"{}\" y=\"0\" width=\"{}\" height=\"{}\"/>"
                 "</clipPath></defs>\n"
                 "<rect width=\"100%\" height=\"100%\" fill=\"url(#fg-bg)\"/>\n",
                 doc.background_top, doc.background_bottom, g.pad, g.usable, height);

  const double middle = g.width / 2.0;
  const double right = g.width - g.pad;
  const double title_y = fs * 2;
  append_text_element(out, fmt::format("id=\"fg-title\" x=\"{}\" y=\"{}\"", middle, title_y),
                      options.title);
  for (size_t i = 0; i < lines.size(); ++i) {
    append_text_element(out,
                        fmt::format("class=\"fg-sub\" x=\"{}\" y=\"{}\"", middle,
                                    title_y + line_step * static_cast<double>(i + 1)),
                        lines[i]);
  }
  // Top right, anchored at their right ends: [Clear] [ic] [Search].
  const double gap = fs * 1.5;
  const double ic_x = std::round(right - 6 * char_width - gap);
  const double clear_x = std::round(ic_x - 2 * char_width - gap);
  fmt::format_to(it,
                 "<text id=\"fg-unzoom\" class=\"fg-btn fg-off\" x=\"{}\" y=\"{}\">Reset Zoom</text>\n"
                 "<text id=\"fg-search\" class=\"fg-btn\" x=\"{}\" y=\"{}\">Search</text>\n"
                 "<text id=\"fg-ic\" class=\"fg-btn\" x=\"{}\" y=\"{}\">ic<title>Ignore case in "
                 "searches (Ctrl-I)</title></text>\n"
                 "<text id=\"fg-clear\" class=\"fg-btn fg-off\" x=\"{}\" y=\"{}\">Clear</text>\n",
                 g.pad, title_y, right, title_y, ic_x, title_y, clear_x, title_y);
  const double details_y = height - bottom / 2;
  fmt::format_to(it,
                 "<text id=\"fg-details\" x=\"{}\" y=\"{}\"></text>\n"
                 "<text id=\"fg-matched\" x=\"{}\" y=\"{}\"></text>\n",
                 g.pad, details_y, right, details_y);
  if (depth == 0) {
    append_text_element(
        out, fmt::format("class=\"fg-sub\" x=\"{}\" y=\"{}\"", middle, top + fh),
        layout.total == 0 ? "No samples" : "No frame is as wide as the minimum width");
  }

  // Each distinct name once: its escaped text, and its index in the JSON names array.
  std::vector<int32_t> shown_index(names.size() + 1, -1);  // the last slot is the root
  std::vector<ShownName> shown;
  auto shown_name = [&](const Frame& f) -> const ShownName& {
    size_t slot = f.name == Frame::kRoot || f.name >= names.size() ? names.size() : f.name;
    int32_t& index = shown_index[slot];
    if (index < 0) {
      index = static_cast<int32_t>(shown.size());
      ShownName s;
      s.display = displayable(frame_name(names, f));
      append_xml_escaped(s.xml, s.display);
      s.points = code_points(s.display);
      s.data_id = static_cast<uint32_t>(index);
      shown.push_back(std::move(s));
    }
    return shown[static_cast<size_t>(index)];
  };

  // One buffer: frames, then labels, then the script's data, each a pass over the layout.
  const std::string height_text = fmt::format("{}", fh - 1);
  out += "<g clip-path=\"url(#fg-clip)\"><g id=\"fg-frames\">\n";
  for (size_t d = 0; d < depth; ++d) {
    const double y = level_y(d);
    out += "<g transform=\"translate(0,";
    append_number(out, y);
    out += ")\">\n";
    const auto& level = layout.levels[d];
    for (size_t i = 0; i < level.size(); ++i) {
      const Frame& f = level[i];
      const ShownName& name = shown_name(f);
      int64_t x1 = hundredths(g.pad + static_cast<double>(f.start) * scale);
      int64_t x2 = hundredths(g.pad + static_cast<double>(end_of(f)) * scale);
      out += "<rect x=\"";
      append_hundredths(out, x1);
      out += "\" width=\"";
      append_hundredths(out, x2 - x1);
      out += "\" height=\"";
      out += height_text;
      out += "\" class=\"";
      style.append_class(out, d, i, f);
      out += "\"><title>";
      out += name.xml;
      out += " (";
      style.append_details(out, d, i, f);
      out += ")</title></rect>\n";
    }
    out += "</g>\n";
  }
  out += "</g></g>\n<g id=\"fg-labels\">\n";
  for (size_t d = 0; d < depth; ++d) {
    const double y = level_y(d);
    for (const Frame& f : layout.levels[d]) {
      int64_t x1 = hundredths(g.pad + static_cast<double>(f.start) * scale);
      int64_t x2 = hundredths(g.pad + static_cast<double>(end_of(f)) * scale);
      double width = static_cast<double>(x2 - x1) / 100.0;
      auto chars = static_cast<size_t>(std::max(0.0, std::floor(width / char_width)));
      if (chars < 3) continue;
      const ShownName& name = shown_name(f);
      out += "<text x=\"";
      append_hundredths(out, x1 + 300);
      out += "\" y=\"";
      append_number(out, y + text_dy);
      out += "\">";
      if (name.points <= chars) {
        out += name.xml;
      } else {
        append_xml_escaped(out, first_code_points(name.display, chars - 2));
        out += "..";
      }
      out += "</text>\n";
    }
  }
  out += "</g>\n<g id=\"fg-zlabels\"></g>\n";

  // What the script needs, as JSON in a data block that is never executed. Names are JSON
  // strings with < > & escaped, so the block contains no markup at all.
  out += "<script type=\"application/json\" id=\"fg-data\">";
  fmt::format_to(it, "{{\"total\":{},\"width\":{},\"pad\":{},\"cw\":{},\"ty\":{},\"ys\":[",
                 layout.total, g.width, g.pad, char_width, text_dy);
  for (size_t d = 0; d < depth; ++d) {
    if (d != 0) out += ',';
    append_number(out, level_y(d));
  }
  out += ']';
  if (!doc.trees.empty()) {
    out += ",\"trees\":[";
    for (size_t d = 0; d < depth; ++d) {
      if (d != 0) out += ',';
      fmt::format_to(it, "{}", d < doc.trees.size() ? doc.trees[d] : 0);
    }
    out += ']';
  }
  out += ",\"names\":[";
  for (size_t i = 0; i < shown.size(); ++i) {
    if (i != 0) out += ',';
    append_json_string(out, shown[i].display);
  }
  out += "],\"levels\":[";
  for (size_t d = 0; d < depth; ++d) {
    if (d != 0) out += ',';
    out += '[';
    int64_t previous_end = 0;
    const auto& level = layout.levels[d];
    for (size_t i = 0; i < level.size(); ++i) {
      const Frame& f = level[i];
      if (i != 0) out += ',';
      fmt::format_to(it, "{},{},{}", shown_name(f).data_id, f.start - previous_end, f.value);
      previous_end = end_of(f);
    }
    out += ']';
  }
  out += "]}</script>\n</svg>\n";
  return out;
}

}  // namespace ember::flamegraph
