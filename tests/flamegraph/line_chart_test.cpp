// The line charts of `ember trend` and `ember scale`: well-formed XML whatever the names, one
// point per value with its hover text, gaps where a value is missing, log axes by decades.

#include <gtest/gtest.h>

#include <cmath>

#include "flamegraph/line_chart.h"
#include "xml_check.h"

namespace ember::flamegraph {
namespace {

using testing::parse_xml;

LineChart chart() {
  LineChart c;
  c.title = "t";
  c.x = {1, 2, 3, 4};
  c.x_labels = {"run a", "run b", "run c", "run d"};
  c.series.push_back({"hash", {0.2, 0.25, NAN, 0.3}, {"20%", "25%", "-", "30%"}, true, std::nullopt});
  c.series.push_back({"</text><script>x()</script>]]>\x01\xff", {0.1, 0.1, 0.1, 0.1}, {}, false, std::nullopt});
  return c;
}

TEST(LineChart, WellFormedWithOnePointPerValueAndHoverTexts) {
  std::string svg = render_line_chart(chart());
  auto doc = parse_xml(svg);
  ASSERT_TRUE(doc) << doc.error();
  auto circles = doc->all("circle");
  ASSERT_EQ(circles.size(), 7u);  // the missing value has no point
  EXPECT_EQ(*circles[0]->attribute("data-text"), "hash — run a: 20%");
  EXPECT_EQ(circles[0]->text_content(), "hash — run a: 20%");
  // A gap splits the line in two.
  auto first = doc->all("g")[0];
  EXPECT_EQ(first->all("polyline").size(), 2u);
  // The hostile name is text in the legend, never markup; exactly one script element.
  EXPECT_EQ(doc->all("script").size(), 1u);
  EXPECT_NE(svg.find("&lt;/text&gt;&lt;script&gt;"), std::string::npos);
}

TEST(LineChart, EmptyChartSaysSo) {
  LineChart c;
  c.title = "nothing";
  std::string svg = render_line_chart(c);
  ASSERT_TRUE(parse_xml(svg));
  EXPECT_NE(svg.find("nothing to draw"), std::string::npos);
}

TEST(LineChart, LogAxesTickByDecadesAndDrawTheFittedLine) {
  LineChart c;
  c.log_x = c.log_y = true;
  c.x = {1000, 10000, 100000};
  c.format_y = [](double v) { return std::to_string(static_cast<long long>(v)); };
  c.series.push_back({"q", {1e6, 1e8, 1e10}, {}, true, std::pair{1.0, 2.0}});
  std::string svg = render_line_chart(c);
  auto doc = parse_xml(svg);
  ASSERT_TRUE(doc) << doc.error();
  EXPECT_NE(svg.find(">1000000<"), std::string::npos);
  EXPECT_NE(svg.find(">10000000000<"), std::string::npos);
  size_t fits = 0;
  for (const auto* p : doc->all("polyline")) fits += p->attribute("class") && *p->attribute("class") == "fit";
  EXPECT_EQ(fits, 1u);
}

}  // namespace
}  // namespace ember::flamegraph
