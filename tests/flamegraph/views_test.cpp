// Other views of the same stacks: the sandwich (--focus), flamegraph.pl's palettes (--colors),
// and tooltips that say where a frame's code is.
#include <gtest/gtest.h>

#include <set>

#include "flamegraph/flamegraph.h"
#include "flamegraph/palette.h"
#include "profile/folded_views.h"
#include "svg_test_util.h"

namespace ember::flamegraph {
namespace {

using testing::folded;
using testing::graph;
using testing::Graph;
using testing::kUsable;

// The known call tree of tests/profile/folded_views_test.cpp.
constexpr std::string_view kTree = "main;parse;read 10\nmain;parse;lex 20\nmain;eval;lex 30\nmain;eval 40\n";

Graph sandwich(std::string_view pattern) {
  auto re = common::Regex::compile(pattern);
  EXPECT_TRUE(re);
  return graph(render_sandwich_svg(profile::sandwich_stacks(folded(kTree), *re), {}));
}

TEST(Sandwich, CallersAboveNearestFirstCalleesBelow) {
  // parse (30 samples): called by main; calls read (10) and lex (20).
  Graph g = sandwich("^parse$");
  const auto& parse = g.frame("parse");
  EXPECT_NEAR(parse.width, kUsable, 1e-6);  // the middle row is everything through parse
  const auto& main = g.frame("main");
  const auto& read = g.frame("read");
  const auto& lex = g.frame("lex");
  // main is the row right above parse; read and lex the row right below, in name order.
  EXPECT_NEAR(main.y + main.height + 1, parse.y, 1e-6);
  EXPECT_NEAR(parse.y + parse.height + 1, lex.y, 1e-6);
  EXPECT_EQ(lex.y, read.y);
  EXPECT_NEAR(lex.width, kUsable * 20 / 30, 0.01);
  EXPECT_NEAR(read.width, kUsable * 10 / 30, 0.01);
  EXPECT_LT(lex.x, read.x);
  EXPECT_FALSE(g.has("all"));
  EXPECT_FALSE(g.has("eval"));  // not on any stack through parse
  // The script zooms within one side: the levels say which.
  EXPECT_EQ(g.data["trees"], nlohmann::json::parse("[0,1,2]"));
}

TEST(Sandwich, TwoCallerChainsStackUpwardsAndTheLeafHasNoCallees) {
  // lex (50): called by parse (20) and eval (30), both called by main.
  Graph g = sandwich("^lex$");
  const auto& lex = g.frame("lex");
  const auto& parse = g.frame("parse");
  const auto& eval = g.frame("eval");
  auto mains = g.frames_named("main");
  ASSERT_EQ(mains.size(), 2u);  // above eval and above parse: the callers' chains are not merged
  EXPECT_EQ(parse.y, eval.y);
  EXPECT_NEAR(parse.y + parse.height + 1, lex.y, 1e-6);
  EXPECT_NEAR(mains[0]->y + mains[0]->height + 1, parse.y, 1e-6);
  EXPECT_NEAR(eval.width, kUsable * 30 / 50, 0.01);
  EXPECT_NEAR(parse.width, kUsable * 20 / 50, 0.01);
  // Nothing below lex: it is the bottom row.
  for (const auto& f : g.frames) EXPECT_LE(f.y, lex.y) << f.name;
}

TEST(Sandwich, SeveralMatchesKeepTheirOwnRowOnEachSide) {
  // Two functions: the middle row is "all", each side has its own row of the matches.
  Graph g = sandwich("^(parse|eval)$");
  EXPECT_TRUE(g.has("all"));
  EXPECT_EQ(g.frames_named("parse").size(), 2u);  // one row above "all", one below
  EXPECT_EQ(g.frames_named("eval").size(), 2u);
  const auto& all = g.frame("all");
  for (const auto* f : g.frames_named("main")) EXPECT_LT(f->y, all.y);
  for (const auto* f : g.frames_named("lex")) EXPECT_GT(f->y, all.y);
}

TEST(Palettes, FlamegraphPlNamesAndRules) {
  EXPECT_EQ(palette_from_name("hot"), Palette::kHot);
  EXPECT_EQ(palette_from_name("orange"), Palette::kOrange);
  EXPECT_EQ(palette_from_name("Hot"), std::nullopt);
  EXPECT_EQ(palette_names(), "hot, mem, io, wakeup, chain, java, js, perl, red, green, blue, aqua, yellow, purple, orange");
  // java: Java classes green, C++ yellow, kernel orange, the rest red; JIT green.
  EXPECT_EQ(frame_color("java/util/HashMap.get", Palette::kJava).hue, Hue::kGreen);
  EXPECT_EQ(frame_color("Ljava/lang/Thread;::run", Palette::kJava).hue, Hue::kGreen);
  EXPECT_EQ(frame_color("JavaThread::run", Palette::kJava).hue, Hue::kYellow);
  EXPECT_EQ(frame_color("do_syscall_64_[k]", Palette::kJava).hue, Hue::kOrange);
  EXPECT_EQ(frame_color("start_thread", Palette::kJava).hue, Hue::kRed);
  EXPECT_EQ(frame_color("Interpreter_[j]", Palette::kJava).hue, Hue::kGreen);
  // js: source files green, builtins aqua.
  EXPECT_EQ(frame_color("handler /srv/app.js:12", Palette::kJs).hue, Hue::kGreen);
  EXPECT_EQ(frame_color("Builtin:ArrayMap", Palette::kJs).hue, Hue::kAqua);
  EXPECT_EQ(frame_color("perl_run", Palette::kPerl).hue, Hue::kRed);
  EXPECT_EQ(frame_color("Perl_pp_entersub", Palette::kPerl).hue, Hue::kGreen);
  // Single-colour palettes colour user code; kernel, Python, off-CPU, unknown keep theirs.
  EXPECT_EQ(frame_color("main", Palette::kMem).hue, Hue::kMem);
  EXPECT_EQ(frame_color("main", Palette::kBlue).hue, Hue::kBlue);
  EXPECT_EQ(frame_color("read_[k]", Palette::kMem).hue, Hue::kKernel);
  EXPECT_EQ(frame_color("handle (app.py:4)", Palette::kRed).hue, Hue::kPython);
  EXPECT_EQ(frame_color("[off-cpu: blocked]", Palette::kRed).hue, Hue::kOffCpu);
  EXPECT_EQ(frame_color("[unknown]", Palette::kRed).hue, Hue::kUnknown);
  // The ramps: red is red-dominant, aqua green and blue together, mem has no red.
  for (int s = 0; s < shades(Hue::kRed); ++s) {
    Rgb red = rgb(FrameColor{Hue::kRed, static_cast<uint8_t>(s)});
    EXPECT_GT(red.r, red.g);
    Rgb aqua = rgb(FrameColor{Hue::kAqua, static_cast<uint8_t>(s)});
    EXPECT_EQ(aqua.g, aqua.b);
    EXPECT_LT(aqua.r, aqua.g);
    EXPECT_EQ(rgb(FrameColor{Hue::kMem, static_cast<uint8_t>(s)}).r, 0);
  }
}

TEST(Palettes, AFunctionKeepsItsColourAcrossGraphs) {
  SvgOptions options;
  options.palette = Palette::kGreen;
  Graph one = graph(render_svg(folded("app;main;compute_alpha 7\napp;io 3\n"), options));
  Graph two = graph(render_svg(folded("other;compute_alpha 1\nother;x;y;z 100\n"), options));
  EXPECT_EQ(one.fill_of("compute_alpha"), two.fill_of("compute_alpha"));
  EXPECT_EQ(one.frame("compute_alpha").css_class.front(), 'g');
  // Different names still differ within the palette.
  std::string text;
  for (int i = 0; i < 20; ++i) text += "app;function_" + std::to_string(i) + " 1\n";
  Graph many = graph(render_svg(folded(text), options));
  std::set<std::string> fills;
  for (const auto& f : many.frames) fills.insert(many.fills.at(f.css_class));
  EXPECT_GE(fills.size(), 8u);
}

TEST(Tooltips, NameTheFileAndLineWhereKnown) {
  profile::FoldedStacks stacks = folded("app;main;compute 7\napp;main 3\n");
  stacks.sources.resize(stacks.names.size());
  stacks.sources[stacks.names.intern("compute").value] = "/src/app.cpp:42";
  stacks.sources[stacks.names.intern("main").value] = "/src/app.cpp:10-12";
  Graph g = graph(render_svg(stacks, {}));
  EXPECT_EQ(g.frame("compute").title, "compute (7 samples, 70.00%; /src/app.cpp:42)");
  EXPECT_EQ(g.frame("main").title, "main (10 samples, 100.00%; /src/app.cpp:10-12)");
  EXPECT_EQ(g.frame("app").title, "app (10 samples, 100.00%)");
}

// `ember flamegraph FILE.folded` draws the parsed text directly (FlatStacks, names as fold()
// gives them); the picture must be the one the round trip through a Profile gives, byte for byte.
TEST(FlatStacks, DrawTheSameSvgAsTheProfileRoundTrip) {
  const std::string text =
      "app;main;parse;lex 20\n"
      "app;main;parse;lex 5\n"                        // an equal stack, merged by the layout
      "app;main;read;sys_read_[k];vfs_read_[k] 7\n"
      "node;LazyCompile:*run_[j] 4\n"
      "python3;<module> (/srv/app.py:50);handle (/srv/app.py:40) 9\n"  // Python: file's base name
      "app;;gap 2\n"                                   // an empty name: [unknown]
      "app;tab\there 3\n"                              // a control character: '?'
      "app;idle 0\n"                                   // nothing to draw
      "app;main;[off-cpu: blocked] 6\n";
  auto folded = profile::parse_folded(text, "t.folded");
  ASSERT_TRUE(folded) << folded.error().message();
  auto flat = profile::parse_folded_flat(text, "t.folded");
  ASSERT_TRUE(flat) << flat.error().message();
  profile::FoldOptions fold;
  profile::name_as_folded(*flat, fold);
  SvgOptions options;
  options.palette = Palette::kJava;
  const std::string via_profile = render_svg(profile::fold(profile::to_profile(*folded), fold), options);
  EXPECT_EQ(render_svg(*flat, options), via_profile);
  // And the tooltip of a Python frame names its file and line.
  EXPECT_NE(via_profile.find("handle (app.py:40) (9 samples, 16.07%; /srv/app.py:40)"), std::string::npos);
}

}  // namespace
}  // namespace ember::flamegraph
