#include "common/regex.h"

#include <gtest/gtest.h>

namespace ember::common {
namespace {

TEST(Regex, SearchesAnywhereUnlessAnchored) {
  auto re = Regex::compile("gin");
  ASSERT_TRUE(re) << re.error().message();
  EXPECT_TRUE(re->search("nginx"));
  EXPECT_FALSE(re->search("apache"));
  auto anchored = Regex::compile("^nginx$");
  ASSERT_TRUE(anchored);
  EXPECT_TRUE(anchored->search("nginx"));
  EXPECT_FALSE(anchored->search("nginx-helper"));
  EXPECT_EQ(anchored->pattern(), "^nginx$");
  auto alternation = Regex::compile("^(postgres|postmaster)$");
  ASSERT_TRUE(alternation);
  EXPECT_TRUE(alternation->search("postmaster"));
}

TEST(Regex, NestedStarsMatchInLinearTime) {
  // std::regex backtracked exponentially on this against a 15-character name (one emberd query
  // held a worker for minutes). RE2 answers at once; the ctest TIMEOUT catches a regression.
  auto re = Regex::compile("(.*)*(.*)*(.*)*x");
  ASSERT_TRUE(re) << re.error().message();
  EXPECT_FALSE(re->search("aaaaaaaaaaaaaaa"));
  EXPECT_FALSE(re->search(std::string(200000, 'a')));
  EXPECT_TRUE(re->search(std::string(200000, 'a') + "x"));
  auto nested = Regex::compile("^(a+)+$");
  ASSERT_TRUE(nested);
  EXPECT_FALSE(nested->search(std::string(100000, 'a') + "!"));
  EXPECT_TRUE(nested->search(std::string(100000, 'a')));
}

TEST(Regex, BadPatternsAreRefusedWithThePatternAndTheReason) {
  auto unclosed = Regex::compile("(unclosed");
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(unclosed.error().message(), "invalid regex '(unclosed': missing ): (unclosed");
  auto backref = Regex::compile("(a)\\1");
  ASSERT_FALSE(backref);
  EXPECT_NE(backref.error().message().find("invalid regex '(a)\\1'"), std::string::npos) << backref.error().message();
  // Repetition is bounded, not expanded into gigabytes.
  auto huge = Regex::compile("((a{1000}){1000}){1000}");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("repetition"), std::string::npos) << huge.error().message();
  auto long_pattern = Regex::compile(std::string(300, 'a'), 256);
  ASSERT_FALSE(long_pattern);
  EXPECT_EQ(long_pattern.error().message(), "regex is longer than 256 characters");
}

TEST(Regex, FullMatchFindAllAndReplace) {
  auto row = Regex::compile(R"(^\s*(\S+)\s+(\S+)%$)");
  ASSERT_TRUE(row) << row.error().message();
  std::vector<std::string> groups;
  ASSERT_TRUE(row->full_match("  130 100%", &groups));
  EXPECT_EQ(groups, (std::vector<std::string>{"  130 100%", "130", "100"}));
  EXPECT_FALSE(row->full_match("130 100% extra"));
  auto optional_group = Regex::compile("(.*?):([0-9]+)(:[0-9]+)?");
  ASSERT_TRUE(optional_group);
  ASSERT_TRUE(optional_group->full_match("a.c:12", &groups));
  EXPECT_EQ(groups, (std::vector<std::string>{"a.c:12", "a.c", "12", ""}));
  auto rule = Regex::compile(R"(\.([a-z][0-9]*)\{fill:(#[0-9a-f]{6})\})");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->find_all(".a{fill:#ff0000}.b1{fill:#00ff00}x"),
            (std::vector<std::vector<std::string>>{{".a{fill:#ff0000}", "a", "#ff0000"},
                                                   {".b1{fill:#00ff00}", "b1", "#00ff00"}}));
  EXPECT_TRUE(rule->find_all("none").empty());
  auto unit = Regex::compile(R"((\d)ns   )");
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->replace_all("700ns   f\n5ns   g", "\\1   "), "700   f\n5   g");
  auto empty = Regex::compile("x*");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->find_all("ab").size(), 3u);  // empty matches at 0, 1 and 2, each once
}

TEST(Regex, EscapedTextMatchesItself) {
  for (std::string text : {"we.ird(1)", "a{b}.c", "x+y*z?", "[tab]|^$\\"}) {
    auto re = Regex::compile("^" + regex_escape(text) + "$");
    ASSERT_TRUE(re) << text << ": " << re.error().message();
    EXPECT_TRUE(re->search(text)) << text;
    EXPECT_FALSE(re->search(text + "!")) << text;
  }
}

}  // namespace
}  // namespace ember::common
