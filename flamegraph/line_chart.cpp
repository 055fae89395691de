#include "flamegraph/line_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "flamegraph/text.h"

namespace ember::flamegraph {

namespace {

constexpr int kLeft = 90, kRight = 260, kTop = 64, kBottom = 70;
constexpr int kLegendRow = 18;

// Ten colours that stay apart on white (the Tableau 10 hues, written out as plain values).
constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

// The script: hover a point or a legend entry. Plain DOM calls on elements the SVG itself holds;
// no data is read from names, so nothing in them can run.
constexpr const char* kScript = R"JS(
(function () {
  var details = document.getElementById('chart-details');
  var lines = document.querySelectorAll('.chart-series');
  function highlight(index) {
    for (var i = 0; i < lines.length; ++i) {
      lines[i].classList.toggle('dim', index !== null && lines[i].getAttribute('data-series') !== index);
    }
  }
  document.querySelectorAll('.chart-point').forEach(function (p) {
    p.addEventListener('mouseover', function () {
      details.textContent = p.getAttribute('data-text');
      highlight(p.parentNode.getAttribute('data-series'));
    });
    p.addEventListener('mouseout', function () {
      details.textContent = ' ';
      highlight(null);
    });
  });
  document.querySelectorAll('.chart-legend').forEach(function (l) {
    l.addEventListener('mouseover', function () { highlight(l.getAttribute('data-series')); });
    l.addEventListener('mouseout', function () { highlight(null); });
  });
})();
)JS";

constexpr const char* kStyle = R"CSS(
text { font-family: Verdana, sans-serif; font-size: 12px; fill: #222; }
.title { font-size: 17px; }
.axis { stroke: #444; stroke-width: 1; }
.grid { stroke: #e4e4e4; stroke-width: 1; }
.chart-series polyline { fill: none; stroke-width: 2; }
.chart-series.emphasized polyline { stroke-width: 3.5; }
.chart-series .fit { fill: none; stroke-width: 1.2; stroke-dasharray: 5 4; }
.chart-series.dim { opacity: 0.15; }
.chart-point { cursor: pointer; }
.chart-point:hover { stroke: #000; stroke-width: 2; }
.chart-legend { cursor: pointer; }
)CSS";

std::string escaped(std::string_view text) {
  std::string out;
  append_xml_escaped(out, displayable(text));
  return out;
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double pixel_lo = 0, pixel_hi = 1;  // pixel of lo and of hi

  double map(double v) const {
    double a = log ? std::log10(lo) : lo, b = log ? std::log10(hi) : hi, x = log ? std::log10(v) : v;
    return b == a ? (pixel_lo + pixel_hi) / 2 : pixel_lo + (x - a) / (b - a) * (pixel_hi - pixel_lo);
  }
  bool shows(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// About five round values across [lo, hi]: 1, 2 or 5 times a power of ten apart; powers of ten
// (and 2 and 5 times them when a decade or less is shown) on a log axis.
std::vector<double> ticks(const Axis& a) {
  std::vector<double> out;
  if (a.log) {
    double decades = std::log10(a.hi) - std::log10(a.lo);
    for (double p = std::floor(std::log10(a.lo)); p <= std::ceil(std::log10(a.hi)); ++p) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1 && decades > 1.5) continue;
        double v = m * std::pow(10, p);
        if (v >= a.lo * (1 - 1e-9) && v <= a.hi * (1 + 1e-9)) out.push_back(v);
      }
    }
    return out;
  }
  double span = a.hi - a.lo;
  if (!(span > 0)) return {a.lo};
  double step = std::pow(10, std::floor(std::log10(span / 5)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (span / (step * m) <= 6) {
      step *= m;
      break;
    }
  }
  for (double v = std::ceil(a.lo / step) * step; v <= a.hi + step * 1e-9; v += step) {
    out.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

Axis y_axis(const LineChart& c, double pixel_lo, double pixel_hi) {
  Axis a;
  a.log = c.log_y;
  a.pixel_lo = pixel_lo;
  a.pixel_hi = pixel_hi;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : c.series) {
    for (double v : s.y) {
      if (!a.shows(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!std::isfinite(lo)) return a;
  if (a.log) {
    a.lo = std::pow(10, std::floor(std::log10(lo) * 4) / 4);  // quarter decades
    a.hi = std::pow(10, std::ceil(std::log10(hi) * 4) / 4);
  } else {
    a.lo = std::min(0.0, lo);  // shares and times read best from zero
    a.hi = hi > a.lo ? hi * 1.05 : a.lo + 1;
  }
  return a;
}

}  // namespace

std::string render_line_chart(const LineChart& c) {
  const int w = std::max(c.width, 400), h = std::max(c.height, 300);
  std::string out;
  out += fmt::format(
      "<?xml version=\"1.0\" standalone=\"no\"?>\n"
      "<svg version=\"1.1\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "xmlns=\"http://www.w3.org/2000/svg\">\n<style>{2}</style>\n",
      w, h, kStyle);
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>\n", w, h);
  out += fmt::format("<text class=\"title\" x=\"{}\" y=\"24\" text-anchor=\"middle\">{}</text>\n", w / 2,
                     escaped(c.title));
  out += fmt::format("<text id=\"chart-subtitle\" x=\"{}\" y=\"44\" text-anchor=\"middle\">{}</text>\n",
                     w / 2, escaped(c.subtitle));
  out += fmt::format("<text id=\"chart-details\" x=\"{}\" y=\"{}\"> </text>\n", kLeft, h - 12);

  Axis x;
  x.log = c.log_x;
  x.pixel_lo = kLeft;
  x.pixel_hi = w - kRight;
  std::vector<double> xs;
  for (double v : c.x) {
    if (x.shows(v)) xs.push_back(v);
  }
  bool empty = xs.empty() || std::none_of(c.series.begin(), c.series.end(), [&](const ChartSeries& s) {
                 return std::any_of(s.y.begin(), s.y.end(), [&](double v) { return c.log_y ? v > 0 : std::isfinite(v); });
               });
  if (empty) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">nothing to draw</text>\n</svg>\n", w / 2,
                       h / 2);
    return out;
  }
  x.lo = *std::min_element(xs.begin(), xs.end());
  x.hi = *std::max_element(xs.begin(), xs.end());
  Axis y = y_axis(c, h - kBottom, kTop);
  auto format_y = c.format_y ? c.format_y : [](double v) { return fmt::format("{:g}", v); };

  // Grid, ticks and axes.
  for (double t : ticks(y)) {
    double py = y.map(t);
    out += fmt::format("<line class=\"grid\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\"/>\n", kLeft, py,
                       w - kRight, py);
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, py + 4,
                       escaped(format_y(t)));
  }
  // x labels: every one when they fit, else about ten spread evenly (log axes: the given sizes).
  size_t every = std::max<size_t>(1, (c.x.size() + 9) / 10);
  for (size_t i = 0; i < c.x.size(); ++i) {
    if (!x.shows(c.x[i]) || (i % every != 0 && i + 1 != c.x.size())) continue;
    double px = x.map(c.x[i]);
    out += fmt::format("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>\n", px,
                       h - kBottom, h - kBottom + 5);
    std::string label = i < c.x_labels.size() ? c.x_labels[i] : fmt::format("{:g}", c.x[i]);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px, h - kBottom + 19,
                       escaped(label));
  }
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", kLeft, h - kBottom,
                     w - kRight);
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", kLeft, kTop,
                     h - kBottom);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (kLeft + w - kRight) / 2,
                     h - kBottom + 40, escaped(c.x_title));
  out += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>\n",
                     (kTop + h - kBottom) / 2, escaped(c.y_title));

  // Series: a polyline per run of points without gaps, a circle per point, a legend entry.
  for (size_t s = 0; s < c.series.size(); ++s) {
    const ChartSeries& series = c.series[s];
    const char* color = kColors[s % std::size(kColors)];
    out += fmt::format("<g class=\"chart-series{}\" data-series=\"{}\" stroke=\"{}\" fill=\"{}\">\n",
                       series.emphasized ? " emphasized" : "", s, color, color);
    std::string name = escaped(series.name);
    if (series.power_law) {
      auto [coefficient, exponent] = *series.power_law;
      std::string points;
      for (int step = 0; step <= 40; ++step) {
        double xv = x.log ? std::pow(10, std::log10(x.lo) + (std::log10(x.hi) - std::log10(x.lo)) * step / 40)
                          : x.lo + (x.hi - x.lo) * step / 40;
        double yv = coefficient * std::pow(xv, exponent);
        if (!y.shows(yv) || yv < y.lo || yv > y.hi) continue;
        points += fmt::format("{:.1f},{:.1f} ", x.map(xv), y.map(yv));
      }
      if (!points.empty()) out += fmt::format("<polyline class=\"fit\" points=\"{}\"/>\n", points);
    }
    std::string run;
    auto flush = [&] {
      if (!run.empty()) out += fmt::format("<polyline points=\"{}\"/>\n", run);
      run.clear();
    };
    for (size_t i = 0; i < c.x.size() && i < series.y.size(); ++i) {
      if (!x.shows(c.x[i]) || !y.shows(series.y[i])) {
        flush();
        continue;
      }
      run += fmt::format("{:.1f},{:.1f} ", x.map(c.x[i]), y.map(series.y[i]));
    }
    flush();
    for (size_t i = 0; i < c.x.size() && i < series.y.size(); ++i) {
      if (!x.shows(c.x[i]) || !y.shows(series.y[i])) continue;
      std::string label = i < c.x_labels.size() ? c.x_labels[i] : fmt::format("{:g}", c.x[i]);
      std::string value = i < series.point_texts.size() ? series.point_texts[i] : format_y(series.y[i]);
      std::string text = escaped(fmt::format("{} — {}: {}", displayable(series.name), label, value));
      out += fmt::format("<circle class=\"chart-point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" data-text=\"{}\">"
                         "<title>{}</title></circle>\n",
                         x.map(c.x[i]), y.map(series.y[i]), text, text);
    }
    out += "</g>\n";
    int ly = kTop + static_cast<int>(s) * kLegendRow;
    if (ly + kLegendRow <= h - kBottom) {
      std::string shown = std::string(first_code_points(displayable(series.name), 32));
      out += fmt::format(
          "<g class=\"chart-legend\" data-series=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"14\" height=\"4\" "
          "fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}{}<title>{}</title></text></g>\n",
          s, w - kRight + 16, ly + 4, color, w - kRight + 36, ly + 9, series.emphasized ? "▲ " : "",
          escaped(shown + (shown.size() < displayable(series.name).size() ? "…" : "")), name);
    }
  }
  out += fmt::format("<script><![CDATA[{}]]></script>\n</svg>\n", kScript);
  return out;
}

}  // namespace ember::flamegraph
