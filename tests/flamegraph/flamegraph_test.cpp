#include "flamegraph/flamegraph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "flamegraph/assets.h"
#include "flamegraph/text.h"
#include "svg_test_util.h"

namespace ember::flamegraph {
namespace {

using testing::folded;
using testing::graph;
using testing::Graph;
using testing::kUsable;
using testing::read_graph;

struct Color {
  int r, g, b;
};
Color parse_color(const std::string& hex) {
  EXPECT_EQ(hex.size(), 7u) << hex;
  if (hex.size() != 7) return {0, 0, 0};
  return {std::stoi(hex.substr(1, 2), nullptr, 16), std::stoi(hex.substr(3, 2), nullptr, 16),
          std::stoi(hex.substr(5, 2), nullptr, 16)};
}


TEST(Flamegraph, LeafWidthsFollowValues) {
  Graph g = graph(render_svg(folded("app;main;alpha 70\napp;main;beta 30\n"), {}));
  const auto& alpha = g.frame("alpha");
  const auto& beta = g.frame("beta");
  EXPECT_NEAR(alpha.width / beta.width, 70.0 / 30.0, 1e-3);
  EXPECT_NEAR(alpha.width, 0.7 * kUsable, 0.01);
  EXPECT_NEAR(beta.width, 0.3 * kUsable, 0.01);
  // Side by side on one level, in name order, from their parent's left edge.
  EXPECT_EQ(alpha.y, beta.y);
  EXPECT_NEAR(alpha.x, g.frame("main").x, 1e-9);
  EXPECT_NEAR(alpha.x + alpha.width, beta.x, 1e-9);
  EXPECT_NEAR(g.frame("all").width, kUsable, 1e-9);
  EXPECT_NEAR(g.frame("main").width, kUsable, 1e-9);
}

TEST(Flamegraph, RootAtTheBottomAndChildrenAboveParents) {
  profile::FoldedStacks stacks = folded("app;main;f;g 5\n");
  Graph g = graph(render_svg(stacks, {}));
  const double fh = 16;
  EXPECT_EQ(g.frame("app").y, g.frame("all").y - fh);
  EXPECT_EQ(g.frame("main").y, g.frame("app").y - fh);
  EXPECT_EQ(g.frame("g").y, g.frame("f").y - fh);
  for (const auto& f : g.frames) EXPECT_EQ(f.height, fh - 1);
  double height = std::stod(*g.root.attribute("height"));
  EXPECT_GT(g.frame("all").y, height / 2);

  SvgOptions inverted;
  inverted.inverted = true;
  Graph icicle = graph(render_svg(stacks, inverted));
  EXPECT_EQ(icicle.frame("app").y, icicle.frame("all").y + fh);
  EXPECT_EQ(icicle.frame("g").y, icicle.frame("f").y + fh);
  EXPECT_LT(icicle.frame("all").y, height / 2);
  // Flipped, not moved sideways.
  EXPECT_EQ(icicle.frame("g").x, g.frame("g").x);
  EXPECT_EQ(icicle.frame("g").width, g.frame("g").width);
}

TEST(Flamegraph, SelfTimeSitsRightOfTheChildren) {
  Graph g = graph(render_svg(folded("main 30\nmain;f 70\n"), {}));
  EXPECT_NEAR(g.frame("f").x, g.frame("main").x, 1e-9);
  EXPECT_NEAR(g.frame("f").width, 0.7 * kUsable, 0.01);
}

TEST(Flamegraph, MinWidthPrunesNarrowFramesButNotTheirParentsWidth) {
  // "tiny" is 1180 / 100001 = 0.012 px wide: below the default 0.1 px.
  const char* text = "main;big 100000\nmain;tiny;below 1\n";
  Graph pruned = graph(render_svg(folded(text), {}));
  EXPECT_TRUE(pruned.has("big"));
  EXPECT_FALSE(pruned.has("tiny"));
  EXPECT_FALSE(pruned.has("below"));
  EXPECT_NEAR(pruned.frame("main").width, kUsable, 1e-9);
  EXPECT_LT(pruned.frame("big").width, pruned.frame("main").width);

  SvgOptions everything;
  everything.min_width = 0;
  Graph full = graph(render_svg(folded(text), everything));
  EXPECT_TRUE(full.has("tiny"));
  EXPECT_TRUE(full.has("below"));

  SvgOptions wide;
  wide.min_width = 0.7 * kUsable;  // only frames of at least 70% survive
  Graph coarse = graph(render_svg(folded("main;a 69\nmain;b 31\nmain;c;d 0\n"), wide));
  EXPECT_FALSE(coarse.has("a"));
  EXPECT_FALSE(coarse.has("b"));
  EXPECT_TRUE(coarse.has("main"));
}

TEST(Flamegraph, SameInputSameBytesWhateverTheStackOrder) {
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) {
    lines.push_back("app;main;f" + std::to_string(i % 17) + ";g" + std::to_string(i % 5) + " " +
                    std::to_string(i + 1) + "\n");
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l;
    return s;
  };
  std::string first = render_svg(folded(join(lines)), {});
  EXPECT_EQ(first, render_svg(folded(join(lines)), {}));
  std::mt19937 rng(7);
  std::shuffle(lines.begin(), lines.end(), rng);
  EXPECT_EQ(first, render_svg(folded(join(lines)), {}));
}

TEST(Flamegraph, DuplicateStacksAndRecursionMerge) {
  profile::FoldedStacks stacks;
  auto a = stacks.names.intern("a");
  auto main = stacks.names.intern("main");
  stacks.stacks.push_back({{main, a}, 2});
  stacks.stacks.push_back({{main, a}, 3});
  stacks.stacks.push_back({{main, a, a, a}, 5});
  stacks.stacks.push_back({{main}, 0});   // ignored
  stacks.stacks.push_back({{main}, -4});  // ignored
  Graph g = graph(render_svg(stacks, {}));
  auto as = g.frames_named("a");
  ASSERT_EQ(as.size(), 3u);
  EXPECT_NE(as[0]->title.find("a (10 samples, 100.00%)"), std::string::npos) << as[0]->title;
  EXPECT_NEAR(as[1]->width, kUsable / 2, 0.01);
  EXPECT_EQ(g.data["total"], 10);
}

TEST(Flamegraph, TooltipsNameTheValueAndShare) {
  Graph g = graph(render_svg(folded("app;main;alpha 1234\napp;main;beta 766\napp;one 1\n"), {}));
  EXPECT_EQ(g.frame("alpha").title, "alpha (1,234 samples, 61.67%)");
  EXPECT_EQ(g.frame("all").title, "all (2,001 samples, 100.00%)");
  EXPECT_EQ(g.frame("one").title, "one (1 sample, 0.05%)");

  profile::FoldedStacks cpu = folded("app;main;alpha 1500000\napp;main;beta 2500000000\n");
  cpu.value_type = "cpu";
  cpu.value_unit = "nanoseconds";
  Graph t = graph(render_svg(cpu, {}));
  EXPECT_EQ(t.frame("alpha").title, "alpha (1.50 ms of CPU, 0.06%)");
  EXPECT_EQ(t.frame("beta").title, "beta (2.50 s of CPU, 99.94%)");

  SvgOptions named;
  named.count_name = "events";
  EXPECT_EQ(graph(render_svg(folded("a 3\n"), named)).frame("a").title, "a (3 events, 100.00%)");
}

TEST(Flamegraph, LabelsAreCutToFitWithTwoDots) {
  SvgOptions options;
  options.min_width = 0;
  // 11,800 samples on 1180 px: "wide" is 696 px, "narrow" 41 px (5 characters of 7.08 px),
  // "sliver" 2 px.
  Graph g = graph(render_svg(folded("m;wide_function_name 6960\nm;narrow_function_name 410\n"
                                    "m;sliver 20\nm;rest 4410\n"),
                             options));
  auto has_label = [&](std::string_view text) {
    return std::find(g.labels.begin(), g.labels.end(), text) != g.labels.end();
  };
  EXPECT_TRUE(has_label("wide_function_name"));
  EXPECT_TRUE(has_label("nar..")) << ::testing::PrintToString(g.labels);
  for (const auto& label : g.labels) EXPECT_EQ(label.find("sliver"), std::string::npos);
  EXPECT_FALSE(has_label("sl.."));
}

TEST(Flamegraph, ColourIsAFunctionOfTheName) {
  Graph one = graph(render_svg(folded("app;main;compute_alpha 7\napp;io 3\n"), {}));
  Graph two = graph(render_svg(folded("other;compute_alpha 1\nother;x;y;z 100\n"), {}));
  EXPECT_EQ(one.frame("compute_alpha").css_class, two.frame("compute_alpha").css_class);
  EXPECT_EQ(one.fill_of("compute_alpha"), two.fill_of("compute_alpha"));
  // Names do not all share one colour.
  std::string text;
  for (int i = 0; i < 20; ++i) text += "app;function_" + std::to_string(i) + " 1\n";
  Graph many = graph(render_svg(folded(text), {}));
  std::set<std::string> fills;
  for (const auto& f : many.frames) fills.insert(many.fills.at(f.css_class));
  EXPECT_GE(fills.size(), 10u);
}

TEST(Flamegraph, KernelAndJitFramesHaveTheirOwnHues) {
  std::string text = "app;main;user_code 10\n";
  for (int i = 0; i < 12; ++i) {
    text += "app;main;sys_" + std::to_string(i) + "_[k] 1\n";
    text += "app;main;Interpreted" + std::to_string(i) + "_[j] 1\n";
    text += "app;main;user_" + std::to_string(i) + " 1\n";
  }
  Graph g = graph(render_svg(folded(text), {}));
  for (const auto& f : g.frames) {
    Color c = parse_color(g.fills.at(f.css_class));
    if (f.name.ends_with("_[k]")) {
      EXPECT_GT(c.b, c.r) << f.name;  // blue
      EXPECT_GT(c.b, c.g) << f.name;
    } else if (f.name.ends_with("_[j]")) {
      EXPECT_GT(c.g, c.r) << f.name;  // green
      EXPECT_GT(c.g, c.b) << f.name;
    } else {
      EXPECT_GE(c.r, 205) << f.name;  // hot: red to yellow
      EXPECT_LE(c.b, 55) << f.name;
    }
  }
}

// Names that would break the document or run code if they were written raw.
const std::vector<std::string>& hostile_names() {
  static const std::vector<std::string> names = {
      "<script>alert(1)</script>",
      "</script><script>window.pwned=1</script>",
      "&\"x\"'",
      "]]>",
      "]]><script>window.pwned=2</script>",
      "<![CDATA[x",
      "a--b<!--c-->",
      std::string("ctl\x01\x02\x1f\x7f" "end"),
      "\xff\xfe invalid",
      "\xc0\xaf overlong",
      "\xed\xa0\x80 surrogate",
      "\xe2\x82 truncated",
      "\xef\xbf\xbf nonchar",
      "line\xe2\x80\xa8separator",
      "\"><rect onload=\"alert(1)\"/>",
      "&amp;&lt;&#0;",
      "\\u003c/script\\u003e",
  };
  return names;
}

profile::FoldedStacks hostile_profile() {
  profile::FoldedStacks stacks;
  auto root = stacks.names.intern("app");
  int64_t v = 1;
  for (const auto& name : hostile_names()) {
    stacks.stacks.push_back({{root, stacks.names.intern(name)}, v++});
    stacks.stacks.push_back({{root, stacks.names.intern("p"), stacks.names.intern(name + "_[k]")}, 1});
  }
  stacks.value_type = "<b>&";
  stacks.value_unit = "]]>\x01";
  return stacks;
}

TEST(Flamegraph, HostileNamesStayEscapedAndInert) {
  SvgOptions options;
  options.title = "<script>alert('title')</script>";
  options.subtitle = "]]>&\x01\xff";
  options.min_width = 0;
  std::string svg = render_svg(hostile_profile(), options);
  Graph g = graph(svg);
  EXPECT_EQ(svg.find("<script>alert"), std::string::npos);
  EXPECT_EQ(svg.find("<script>window"), std::string::npos);
  EXPECT_EQ(svg.find("<rect onload"), std::string::npos);
  // Only the page's own script and its JSON data block.
  auto scripts = g.root.all("script");
  ASSERT_EQ(scripts.size(), 2u);
  EXPECT_EQ(scripts[0]->attribute("type"), nullptr);
  EXPECT_EQ(scripts[0]->text_content(), "\n" + std::string(assets::kScript));
  EXPECT_EQ(*scripts[1]->attribute("type"), "application/json");
  // No element or attribute the renderer does not write itself.
  const std::set<std::string> elements = {"svg",  "style", "script", "defs", "linearGradient",
                                          "stop", "clipPath", "rect", "text", "g", "title"};
  std::function<void(const testing::XmlNode&)> walk = [&](const testing::XmlNode& n) {
    if (n.is_element()) {
      EXPECT_TRUE(elements.contains(n.name)) << n.name;
      for (const auto& [key, value] : n.attributes) EXPECT_FALSE(key.starts_with("on")) << key;
    }
    for (const auto& c : n.children) walk(*c);
  };
  walk(g.root);
  // Every name is shown as its displayable form, in the tooltip and in the data.
  for (const auto& name : hostile_names()) {
    std::string shown = displayable(name);
    auto frames = g.frames_named(shown);
    ASSERT_EQ(frames.size(), 1u) << shown;
    EXPECT_TRUE(frames[0]->title.starts_with(shown + " (")) << frames[0]->title;
    EXPECT_EQ(g.frames_named(displayable(name + "_[k]")).size(), 1u);
  }
  EXPECT_EQ(g.root.by_id("fg-title")->text_content(), "<script>alert('title')</script>");
  if (auto errors = testing::xmllint_errors(svg)) {
    EXPECT_EQ(*errors, "");
  }
}

TEST(Flamegraph, RandomBytesInNamesAlwaysGiveWellFormedOutput) {
  // Seeded, so a failure reproduces: names of arbitrary bytes, biased towards the dangerous ones.
  std::mt19937 rng(2024);
  static const char kSpecial[] = "<>&\"']]>;\x00\x01\x1f\x7f\x80\xbf\xc0\xc2\xe2\x80\xa8\xed\xef\xf0\xf4\xff";
  const std::string special(kSpecial, sizeof kSpecial - 1);  // with its NUL
  for (int round = 0; round < 50; ++round) {
    profile::FoldedStacks baseline, current;
    std::vector<std::string> names;
    for (int i = 0; i < 12; ++i) {
      std::string name;
      int length = 1 + static_cast<int>(rng() % 12);
      for (int c = 0; c < length; ++c) {
        name += rng() % 2 ? special[rng() % special.size()] : static_cast<char>(rng() % 256);
      }
      names.push_back(name);
    }
    for (auto* stacks : {&baseline, &current}) {
      for (int s = 0; s < 30; ++s) {
        std::vector<profile::StringId> frames;
        int depth = 1 + static_cast<int>(rng() % 6);
        for (int d = 0; d < depth; ++d) frames.push_back(stacks->names.intern(names[rng() % names.size()]));
        stacks->stacks.push_back({frames, static_cast<int64_t>(1 + rng() % 1000)});
      }
    }
    SvgOptions options;
    options.min_width = 0;
    options.subtitle = names[0];
    for (const std::string& svg : {render_svg(current, options),
                                   render_diff_svg(baseline, current, DiffOptions{options, true})}) {
      auto g = read_graph(svg);
      ASSERT_TRUE(g) << "round " << round << ": " << g.error();
      for (const auto& f : g->frames) {
        EXPECT_TRUE(f.title.starts_with(f.name + " (")) << f.title;
        EXPECT_EQ(displayable(f.name), f.name);
      }
      EXPECT_EQ(g->root.all("script").size(), 2u);
    }
  }
}

TEST(Flamegraph, XmllintAcceptsOrdinaryOutput) {
  auto errors = testing::xmllint_errors(render_svg(folded("app;main;f 1\napp;g_[k] 2\n"), {}));
  if (!errors) GTEST_SKIP() << "xmllint is not installed (Debian: libxml2-utils)";
  EXPECT_EQ(*errors, "");
}

TEST(Flamegraph, DeepStacksGetOneRowPerLevel) {
  // Runaway recursion: thousands of levels, each a flat group (XML parsers limit nesting).
  std::string stack = "main";
  for (int i = 0; i < 3000; ++i) stack += ";recurse";
  std::string svg = render_svg(folded(stack + " 10\nmain;leaf 10\n"), {});
  Graph g = graph(svg);
  EXPECT_EQ(g.frames_named("recurse").size(), 3000u);
  EXPECT_EQ(g.data["levels"].size(), 3002u);
  EXPECT_GE(std::stod(*g.root.attribute("height")), 3002.0 * 16);
  if (auto errors = testing::xmllint_errors(svg)) {
    EXPECT_EQ(*errors, "");
  }
}

TEST(Flamegraph, HugeValuesStayWellFormed) {
  profile::FoldedStacks stacks;
  auto a = stacks.names.intern("a");
  auto b = stacks.names.intern("b");
  stacks.stacks.push_back({{a}, INT64_MAX});
  stacks.stacks.push_back({{b}, INT64_MAX});
  stacks.stacks.push_back({{a, b}, INT64_MAX});
  Graph g = graph(render_svg(stacks, {}));
  EXPECT_TRUE(g.has("a"));
  for (const auto& f : g.frames) {
    EXPECT_TRUE(std::isfinite(f.x));
    EXPECT_GE(f.width, 0);
  }
}

TEST(Flamegraph, EmptyProfileSaysSo) {
  std::string svg = render_svg(profile::FoldedStacks{}, {});
  Graph g = graph(svg);
  EXPECT_TRUE(g.frames.empty());
  EXPECT_NE(svg.find(">No samples</text>"), std::string::npos);
}

TEST(Flamegraph, OutOfRangeOptionsAreClamped) {
  SvgOptions odd;
  odd.width = 3;
  odd.frame_height = -1;
  odd.font_size = 0;
  odd.min_width = std::nan("");
  Graph g = graph(render_svg(folded("a;b 1\n"), odd));
  EXPECT_EQ(*g.root.attribute("width"), std::to_string(kMinWidth));
  EXPECT_TRUE(g.has("b"));
}

TEST(Flamegraph, StaysLightForManyFrames) {
  // 2,000 leaves of 20 frames: every frame costs its rect and tooltip, nothing repeated beyond.
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "app";
    for (int d = 0; d < 19; ++d) text += ";fn" + std::to_string(d) + "_" + std::to_string(i % (d + 2));
    text += " " + std::to_string(1000 + i) + "\n";
  }
  SvgOptions options;
  options.min_width = 0;
  std::string svg = render_svg(folded(text), options);
  Graph g = graph(svg);
  size_t name_bytes = 0;
  for (const auto& f : g.frames) name_bytes += f.name.size();
  double per_frame = double(svg.size() - name_bytes) / double(g.frames.size());
  EXPECT_LT(per_frame, 130) << "bytes per frame besides its name";
  // The per-frame markup carries no styling: colours are classes, fonts are in <style>.
  EXPECT_EQ(svg.find("fill=\"rgb"), std::string::npos);
  EXPECT_EQ(svg.find("font-family=\""), std::string::npos);
}

}  // namespace
}  // namespace ember::flamegraph
