#pragma once
// Reading back what render_svg and render_diff_svg wrote: frames with their geometry, colour and
// tooltip, the CSS colours, and the JSON the page's script reads.

#include <nlohmann/json.hpp>

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile/folded.h"
#include "xml_check.h"

namespace ember::flamegraph::testing {

struct DrawnFrame {
  std::string name;   // from the JSON names, which the tests check against the tooltip
  std::string title;  // the tooltip: "name (details)"
  std::string css_class;
  double x = 0, width = 0, y = 0, height = 0;
  size_t level = 0;
};

struct Graph {
  XmlNode root;
  std::vector<DrawnFrame> frames;
  std::map<std::string, std::string> fills;  // CSS class -> "#rrggbb"
  nlohmann::json data;
  std::vector<std::string> labels;  // text of the static frame labels

  // The frames called `name`; fails the test if there is not exactly one.
  const DrawnFrame& frame(std::string_view name) const;
  std::vector<const DrawnFrame*> frames_named(std::string_view name) const;
  bool has(std::string_view name) const { return !frames_named(name).empty(); }
  std::string fill_of(std::string_view name) const;
};

// Parses `svg` (failing the test, via the returned error, if it is not well-formed XML).
std::expected<Graph, std::string> read_graph(const std::string& svg);

// The width of a frame that spans the whole graph: the default width less the margins.
inline constexpr double kUsable = 1200 - 2 * 10;

// `text` parsed as folded stacks; a parse error fails the test and gives no stacks.
profile::FoldedStacks folded(std::string_view text);

// read_graph, failing the test (and giving an empty graph) when the SVG is not well-formed.
Graph graph(const std::string& svg);

// xmllint's complaints about `svg`, empty if it accepts it; nullopt when xmllint is absent.
std::optional<std::string> xmllint_errors(const std::string& svg);

}  // namespace ember::flamegraph::testing
