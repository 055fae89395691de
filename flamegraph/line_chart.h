#pragma once
// A line chart as one self-contained SVG file: one line per series over shared x positions (the
// runs of `ember trend`, the sizes of `ember scale`), linear or logarithmic axes. The lines and
// points are static SVG; hovering a point shows its series, x label and value in the details line
// (and as the point's native tooltip), hovering a legend entry highlights its line. Names are
// escaped like a flamegraph's: any byte string gives well-formed, inert output.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ember::flamegraph {

struct ChartSeries {
  std::string name;
  std::vector<double> y;                 // one per x; NaN (or ≤ 0 on a log axis) leaves a gap
  std::vector<std::string> point_texts;  // one per x: what hovering the point says (the value)
  bool emphasized = false;               // drawn thicker, marked in the legend (a drift, a flag)
  // y = coefficient · x^exponent drawn dashed across the plot (a fitted growth), when set.
  std::optional<std::pair<double, double>> power_law;
};

// The most lines a chart should carry: one colour each, and more would not be told apart.
inline constexpr size_t kMaxChartLines = 10;

struct LineChart {
  std::string title;
  std::string subtitle;
  std::vector<double> x;              // positions, increasing
  std::vector<std::string> x_labels;  // one per x: axis labels and hover text
  std::string x_title;
  std::string y_title;
  bool log_x = false;
  bool log_y = false;
  std::function<std::string(double)> format_y;  // axis tick labels; default %g
  std::vector<ChartSeries> series;
  int width = 1000;
  int height = 560;
};

// Never fails: an empty chart says so.
std::string render_line_chart(const LineChart& chart);

}  // namespace ember::flamegraph
