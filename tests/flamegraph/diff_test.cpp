#include <gtest/gtest.h>

#include "flamegraph/flamegraph.h"
#include "svg_test_util.h"

namespace ember::flamegraph {
namespace {

using testing::folded;
using testing::graph;
using testing::Graph;
using testing::kUsable;

Graph diff(std::string_view baseline, std::string_view current, bool normalize = true) {
  DiffOptions options;
  options.normalize = normalize;
  auto g = testing::read_graph(render_diff_svg(folded(baseline), folded(current), options));
  EXPECT_TRUE(g) << g.error();
  return g ? std::move(*g) : Graph{};
}

// "r3" -> +3, "b5" -> -5, "n" -> 0.
int verdict(const Graph& g, std::string_view name) {
  const std::string& c = g.frame(name).css_class;
  if (c == "n") return 0;
  EXPECT_TRUE(c.size() >= 2 && (c[0] == 'r' || c[0] == 'b')) << c;
  int level = std::stoi(c.substr(1));
  return c[0] == 'r' ? level : -level;
}

// Equal totals: shares and raw values agree.
constexpr std::string_view kBaseline = "main;doubled 100\nmain;halved 100\nmain;same 100\nmain;other 100\n";
constexpr std::string_view kCurrent = "main;doubled 200\nmain;halved 50\nmain;same 100\nmain;other 50\n";

TEST(DiffFlamegraph, GrownIsRedShrunkIsBlueUnchangedIsNeutral) {
  for (bool normalize : {true, false}) {
    Graph g = diff(kBaseline, kCurrent, normalize);
    EXPECT_GT(verdict(g, "doubled"), 0);
    EXPECT_LT(verdict(g, "halved"), 0);
    EXPECT_EQ(verdict(g, "same"), 0);
    EXPECT_EQ(verdict(g, "main"), 0);
    // The colours behind the classes: red, blue, grey.
    std::string red = g.fills.at(g.frame("doubled").css_class);
    std::string blue = g.fills.at(g.frame("halved").css_class);
    std::string grey = g.fills.at(g.frame("same").css_class);
    EXPECT_EQ(red.substr(1, 2), "ff");
    EXPECT_EQ(blue.substr(5, 2), "ff");
    EXPECT_EQ(grey.substr(1, 2), grey.substr(3, 2));
    EXPECT_EQ(grey.substr(3, 2), grey.substr(5, 2));
  }
}

TEST(DiffFlamegraph, BiggerChangesAreDeeperColours) {
  Graph g = diff("m;a 100\nm;b 100\nm;c 1000\n", "m;a 500\nm;b 110\nm;c 1000\n", false);
  EXPECT_GT(verdict(g, "a"), verdict(g, "b"));
  EXPECT_GT(verdict(g, "b"), 0);
  EXPECT_EQ(verdict(g, "a"), 8);  // the largest change is the deepest colour
}

TEST(DiffFlamegraph, NormalizationComparesSharesNotCounts) {
  // Everything doubled: the same shares, twice the samples.
  std::string_view baseline = "main;f 100\nmain;g 300\n";
  std::string_view current = "main;f 200\nmain;g 600\n";
  Graph shares = diff(baseline, current, true);
  EXPECT_EQ(verdict(shares, "f"), 0);
  EXPECT_EQ(verdict(shares, "g"), 0);
  Graph raw = diff(baseline, current, false);
  EXPECT_GT(verdict(raw, "f"), 0);
  EXPECT_GT(verdict(raw, "g"), 0);
  EXPECT_GT(verdict(raw, "main"), 0);

  // f kept its count while the rest grew: its share fell.
  Graph fell = diff("main;f 100\nmain;g 100\n", "main;f 100\nmain;g 300\n", true);
  EXPECT_LT(verdict(fell, "f"), 0);
  EXPECT_GT(verdict(fell, "g"), 0);
  EXPECT_EQ(verdict(diff("main;f 100\nmain;g 100\n", "main;f 100\nmain;g 300\n", false), "f"), 0);
}

TEST(DiffFlamegraph, TooltipsGiveBothValuesAndTheChange) {
  Graph raw = diff(kBaseline, kCurrent, false);
  EXPECT_EQ(raw.frame("doubled").title, "doubled (100 → 200 samples, +100.0%)");
  EXPECT_EQ(raw.frame("halved").title, "halved (100 → 50 samples, -50.0%)");
  EXPECT_EQ(raw.frame("same").title, "same (100 → 100 samples, unchanged)");
  Graph shares = diff("main;f 100\nmain;g 300\n", "main;f 300\nmain;g 300\n", true);
  EXPECT_EQ(shares.frame("f").title, "f (100 → 300 samples, share 25.00% → 50.00%, +100.0%)");
}

TEST(DiffFlamegraph, NewFramesGrewAndVanishedFunctionsAreListed) {
  Graph g = diff("main;f 100\nmain;gone;deeper 50\n", "main;f 100\nmain;fresh 50\n");
  EXPECT_GT(verdict(g, "fresh"), 0);
  EXPECT_EQ(g.frame("fresh").title, "fresh (0 → 50 samples, share 0.00% → 33.33%, new)");
  EXPECT_FALSE(g.has("gone"));  // the shape is the current profile's
  std::string notes;
  for (const auto* t : g.root.all("text")) {
    const std::string* cls = t->attribute("class");
    if (cls != nullptr && *cls == "fg-sub") notes += t->text_content() + "\n";
  }
  EXPECT_NE(notes.find("Only in the baseline: deeper (33.33%), gone (33.33%)"), std::string::npos)
      << notes;
  EXPECT_NE(notes.find("shares of each total; 150 → 150 samples"), std::string::npos) << notes;
}

TEST(DiffFlamegraph, BaselineMatchesByPathNotByName) {
  // f moved from under a to under b: under a it vanished, under b it is new.
  Graph g = diff("main;a;f 100\nmain;b 100\n", "main;a 100\nmain;b;f 100\n", false);
  EXPECT_EQ(g.frame("f").title, "f (0 → 100 samples, new)");
  EXPECT_EQ(verdict(g, "a"), 0);
}

TEST(DiffFlamegraph, EmptyBaselineMakesEverythingNew) {
  Graph g = diff("", "main;f 10\n");
  EXPECT_GT(verdict(g, "f"), 0);
  EXPECT_EQ(g.frame("f").title, "f (0 → 10 samples, new)");
}

TEST(DiffFlamegraph, HostileNamesInBothProfilesStayWellFormed) {
  std::string names[] = {"<script>alert(1)</script>", "]]>", "\x01\xff", "&amp;"};
  std::string baseline, current;
  for (const auto& n : names) {
    baseline += "app;" + n + ";gone" + n + " 3\n";
    current += "app;" + n + " 5\n";
  }
  DiffOptions options;
  std::string svg = render_diff_svg(folded(baseline), folded(current), options);
  auto g = testing::read_graph(svg);
  ASSERT_TRUE(g) << g.error();
  EXPECT_EQ(svg.find("<script>alert"), std::string::npos);
  EXPECT_EQ(g->root.all("script").size(), 2u);
  if (auto errors = testing::xmllint_errors(svg)) {
    EXPECT_EQ(*errors, "");
  }
}

}  // namespace
}  // namespace ember::flamegraph
