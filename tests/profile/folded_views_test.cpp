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

}  // namespace
}  // namespace ember::profile
