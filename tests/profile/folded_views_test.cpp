// --reverse and --focus on a known call tree:
//   main;parse;read 10   main;parse;lex 20   main;eval;lex 30   main;eval 40
#include "profile/folded_views.h"

#include <gtest/gtest.h>

namespace ember::profile {
namespace {

FoldedStacks tree() {
  auto parsed = parse_folded("main;parse;read 10\nmain;parse;lex 20\nmain;eval;lex 30\nmain;eval 40\n", "tree.folded");
  EXPECT_TRUE(parsed);
  return *parsed;
}

TEST(FoldedViews, ReverseMergesFromTheLeaf) {
  EXPECT_EQ(format_folded(reverse_stacks(tree())),
            "eval;main 40\n"
            "lex;eval;main 30\n"
            "lex;parse;main 20\n"
            "read;parse;main 10\n");
}

TEST(FoldedViews, FocusShowsCalleesAndCallersOfTheFunction) {
  auto lex = common::Regex::compile("^lex$");
  ASSERT_TRUE(lex);
  EXPECT_EQ(format_folded(focus_stacks(tree(), *lex)),
            "callers of lex;eval;main 30\n"
            "callers of lex;parse;main 20\n"
            "lex 50\n");
  auto eval = common::Regex::compile("eval");
  ASSERT_TRUE(eval);
  // The outermost match of each stack: eval with its callee lex, and main calling it.
  EXPECT_EQ(format_folded(focus_stacks(tree(), *eval)),
            "callers of eval;main 70\n"
            "eval 40\n"
            "eval;lex 30\n");
  auto none = common::Regex::compile("nothing");
  ASSERT_TRUE(none);
  EXPECT_TRUE(focus_stacks(tree(), *none).stacks.empty());
}

// The sandwich the SVG draws: both sides start at the match, callers nearest first.
TEST(FoldedViews, SandwichSeesTheFunctionFromBothSides) {
  auto parse = common::Regex::compile("^parse$");
  ASSERT_TRUE(parse);
  Sandwich s = sandwich_stacks(tree(), *parse);
  EXPECT_EQ(format_folded(s.callees), "parse;lex 20\nparse;read 10\n");
  FoldedStacks callers;
  callers.names = s.callees.names;
  callers.stacks = s.callers;
  EXPECT_EQ(format_folded(callers), "parse;main 30\n");
  auto lex = common::Regex::compile("^lex$");
  ASSERT_TRUE(lex);
  Sandwich l = sandwich_stacks(tree(), *lex);
  EXPECT_EQ(format_folded(l.callees), "lex 50\n");
  callers.names = l.callees.names;
  callers.stacks = l.callers;
  EXPECT_EQ(format_folded(callers), "lex;eval;main 30\nlex;parse;main 20\n");
}

// Where a frame's code is (the tooltip's file:line) survives folding and the views.
TEST(FoldedViews, SourcesFollowTheFrames) {
  auto parsed = parse_folded("main;handle (app.py:40) 3\nmain;handle (app.py:40);leaf 2\n", "py.folded");
  ASSERT_TRUE(parsed);
  FoldedStacks stacks = fold(to_profile(*parsed));
  const StringId handle = stacks.names.intern("handle (app.py:40)");
  EXPECT_EQ(stacks.source(handle), "app.py:40");
  EXPECT_EQ(stacks.source(stacks.names.intern("main")), "");
  FoldedStacks reversed = reverse_stacks(stacks);
  EXPECT_EQ(reversed.source(reversed.names.intern("handle (app.py:40)")), "app.py:40");
  auto leaf = common::Regex::compile("^leaf$");
  ASSERT_TRUE(leaf);
  Sandwich s = sandwich_stacks(stacks, *leaf);
  EXPECT_EQ(s.callees.source(s.callees.names.intern("handle (app.py:40)")), "app.py:40");
}

}  // namespace
}  // namespace ember::profile
