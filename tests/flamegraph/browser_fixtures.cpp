// Writes the SVGs the browser test (browser/flamegraph.test.mjs) loads in Chromium:
//   flamegraph_browser_fixtures OUT_DIR
// The profiles are small and known, so the test can check exact widths and percentages.

#include <cstdio>
#include <fstream>
#include <string>

#include "flamegraph/flamegraph.h"
#include "flamegraph/line_chart.h"

namespace {

using ember::profile::FoldedStacks;

// 1,000 samples. "recurse" is on three levels of the same 150 samples; "compute" (600) holds
// "alpha" (300) and "beta" (200).
constexpr const char* kPlain =
    "app;main;compute;alpha 300\n"
    "app;main;compute;beta 200\n"
    "app;main;compute 100\n"
    "app;main;parse;recurse;recurse;recurse 150\n"
    "app;main;parse 50\n"
    "app;main;read_[k];vfs_read_[k] 100\n"
    "app;idle 100\n";

constexpr const char* kBaseline =
    "app;main;compute;alpha 150\n"
    "app;main;compute;beta 400\n"
    "app;main;compute 100\n"
    "app;main;parse;recurse;recurse;recurse 150\n"
    "app;main;parse 50\n"
    "app;main;gone 50\n"
    "app;idle 100\n";

// Ten trillion nanoseconds, and a frame of 0.1249 px ("small", with "inner" on top) at x = 718
// between two wide ones. Its right edge is written rounded down to 718.12, 0.0049 px short:
// magnified 9,447 times that would be 46 px, so the zoom must not trust rounded coordinates.
constexpr const char* kPrecision =
    "app;big 6000000000000\n"
    "app;small;inner 1058474576\n"
    "app;t_after 3998941525424\n";

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) std::fprintf(stderr, "cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

FoldedStacks parse(const char* text) {
  auto parsed = ember::profile::parse_folded(text, "fixture");
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error().message().c_str());
    std::exit(1);
  }
  return std::move(*parsed);
}

// Each name would run code if it reached the page as markup or as script.
FoldedStacks hostile() {
  const char* names[] = {
      "<img src=x onerror=\"window.__pwned=1\">",
      "</script><script>window.__pwned=2</script>",
      "]]><script>window.__pwned=3</script>",
      "\"><script>window.__pwned=4</script>",
      "');window.__pwned=5;('",
      "\\u003cscript\\u003ewindow.__pwned=6\\u003c/script\\u003e",
      "<svg onload=\"window.__pwned=7\"/>",
  };
  FoldedStacks stacks;
  auto app = stacks.names.intern("app");
  int64_t v = 100;
  for (const char* name : names) {
    stacks.stacks.push_back({{app, stacks.names.intern(name)}, v});
    v += 10;
  }
  return stacks;
}

}  // namespace

// `ember trend`'s chart: three runs, two lines, one of them drifting, one name hostile.
ember::flamegraph::LineChart trend_chart() {
  ember::flamegraph::LineChart c;
  c.title = "trend";
  c.x = {1, 2, 3};
  c.x_labels = {"2026-12-01 10:00:00", "2026-12-02 10:00:00", "2026-12-03 10:00:00"};
  c.format_y = [](double v) { return std::to_string(static_cast<int>(v * 100)) + "%"; };
  c.series.push_back({"hash (self)", {0.20, 0.25, 0.30}, {"20.00%", "25.00%", "30.00%"}, true, std::nullopt});
  c.series.push_back({"<script>alert(1)</script>]]> (self)", {0.10, 0.10, 0.11}, {"10.00%", "10.00%", "11.00%"},
                      false, std::nullopt});
  return c;
}

// `ember scale`'s chart: log-log, a quadratic line with its fitted power law.
ember::flamegraph::LineChart scale_chart() {
  ember::flamegraph::LineChart c;
  c.title = "scale";
  c.log_x = c.log_y = true;
  c.x = {1000, 10000, 100000};
  c.x_labels = {"1000", "10000", "100000"};
  c.series.push_back({"quadratic (self) k=2.00", {1e6, 1e8, 1e10}, {"1 ms", "100 ms", "10 s"}, true,
                      std::pair{1.0, 2.0}});
  c.series.push_back({"linear (self) k=1.00", {1e6, 1e7, 1e8}, {"1 ms", "10 ms", "100 ms"}, false,
                      std::pair{1000.0, 1.0}});
  return c;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  namespace fg = ember::flamegraph;
  fg::SvgOptions options;
  options.subtitle = "browser test · 1,000 samples";
  FoldedStacks plain = parse(kPlain);
  bool ok = write(dir + "/plain.svg", fg::render_svg(plain, options));
  fg::SvgOptions inverted = options;
  inverted.inverted = true;
  ok &= write(dir + "/inverted.svg", fg::render_svg(plain, inverted));
  ok &= write(dir + "/hostile.svg", fg::render_svg(hostile(), options));
  FoldedStacks precision = parse(kPrecision);
  precision.value_type = "cpu";
  precision.value_unit = "nanoseconds";
  ok &= write(dir + "/precision.svg", fg::render_svg(precision, options));
  fg::DiffOptions diff;
  diff.svg.title = "Differential Flame Graph";
  ok &= write(dir + "/diff.svg", fg::render_diff_svg(parse(kBaseline), plain, diff));
  // A sandwich of f: callers a and b (both called by main) above it, callees x and y below.
  auto f = ember::common::Regex::compile("^f$");
  ok &= f.has_value() &&
        write(dir + "/sandwich.svg",
              fg::render_sandwich_svg(ember::profile::sandwich_stacks(parse("main;a;f;x 30\nmain;b;f;y 20\nmain;b;f 10\n"), *f),
                                      options));
  ok &= write(dir + "/trend.svg", fg::render_line_chart(trend_chart()));
  ok &= write(dir + "/scale.svg", fg::render_line_chart(scale_chart()));
  return ok ? 0 : 1;
}
