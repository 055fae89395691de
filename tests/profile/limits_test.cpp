#include "profile/limits.h"

#include <gtest/gtest.h>

#include "profile/folded.h"

namespace ember::profile {
namespace {

std::vector<std::string> names(const FoldedStacks& f, size_t stack = 0) {
  std::vector<std::string> out;
  for (StringId id : f.stacks.at(stack).frames) out.emplace_back(f.names.get(id));
  return out;
}

std::string numbered_stack(size_t depth) {
  std::string line;
  for (size_t i = 0; i < depth; ++i) line += (i ? ";f" : "f") + std::to_string(i);
  return line;
}

TEST(Limits, CutKeepsTheRootAndLeafEnds) {
  EXPECT_EQ(cut_stack(10, 10).root_end, 10u);
  StackCut cut = cut_stack(100, 9);  // 4 root frames, the marker, 4 leaf frames
  EXPECT_EQ(cut.root_end, 4u);
  EXPECT_EQ(cut.leaf_begin, 96u);
  StackCut odd = cut_stack(100, 10);  // 9 kept: 4 at the root, 5 at the leaf
  EXPECT_EQ(odd.root_end, 4u);
  EXPECT_EQ(odd.leaf_begin, 95u);
}

TEST(Limits, NamesAreCutOnACharacterBoundary) {
  EXPECT_EQ(shorten_name("short", 16), "short");
  EXPECT_EQ(shorten_name(std::string(40, 'a'), 16), std::string(13, 'a') + "…");
  // "é" is two bytes: the cut never splits it.
  EXPECT_EQ(shorten_name("aaaaaaaaaaaaéééé", 16), "aaaaaaaaaaaa…");
}

TEST(Limits, DeepFoldedStackIsCutAndCounted) {
  InputLimits limits;
  limits.max_stack_depth = 9;
  LimitReport report;
  auto parsed = parse_folded(numbered_stack(100) + " 5\nf0;f1 2\n", "deep.folded", limits, &report);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(names(*parsed), (std::vector<std::string>{"f0", "f1", "f2", "f3", std::string(kElidedFrames),
                                                      "f96", "f97", "f98", "f99"}));
  EXPECT_EQ(names(*parsed, 1), (std::vector<std::string>{"f0", "f1"}));
  EXPECT_EQ(parsed->total(), 7);
  EXPECT_EQ(report.stacks_cut, 1u);
  EXPECT_EQ(report.deepest, 100u);
  ASSERT_EQ(report.notes(limits).size(), 1u);
  EXPECT_EQ(report.notes(limits)[0],
            "1 stack deeper than 9 frames: the middle of each is replaced by one '[frames elided: "
            "stack deeper than the limit]' frame (the deepest had 100 frames; --max-stack-depth "
            "raises the limit)");
}

TEST(Limits, TooManyFramesInAllIsRefusedWithTheLine) {
  InputLimits limits;
  limits.max_frames = 5;
  auto parsed = parse_folded("a;b 1\nc;d 1\ne;f 1\n", "many.folded", limits);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message(),
            "many.folded:3: more than 5 frames in all stacks (the limit; --max-frames raises it)");
}

TEST(Limits, ProfileStacksInlineChainsAndNamesAreBounded) {
  InputLimits limits;
  limits.max_stack_depth = 5;
  limits.max_name_length = 16;
  auto parsed = parse_folded(numbered_stack(3) + " 1\n", "x");
  ASSERT_TRUE(parsed);
  Profile p = to_profile(*parsed);
  // A sample 40 locations deep (leaf first), one location with a 7-line inline chain, a long name.
  Sample deep;
  for (int i = 0; i < 40; ++i) deep.locations.push_back(LocationId{static_cast<uint32_t>(i % 3)});
  deep.values = {2};
  p.samples.push_back(deep);
  Location chain;
  for (int i = 0; i < 7; ++i) chain.lines.push_back(Line{FunctionId{1}, i, 0});
  p.locations.push_back(chain);
  p.samples.push_back(Sample{{LocationId{static_cast<uint32_t>(p.locations.size() - 1)}}, {1}, {}});
  p.functions.push_back(Function{p.strings.intern(std::string(100, 'x')), {}, {}, 0});
  const size_t long_named = p.functions.size() - 1;
  auto report = apply_limits(p, limits, "p.pb");
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->stacks_cut, 2u);
  EXPECT_EQ(report->deepest, 40u);
  EXPECT_EQ(report->names_cut, 1u);
  EXPECT_EQ(report->longest, 100u);
  EXPECT_EQ(p.str(p.functions[long_named].name), std::string(13, 'x') + "…");
  FoldOptions no_root;
  no_root.process_root = false;
  FoldedStacks folded = fold(p, no_root);
  for (const auto& stack : folded.stacks) EXPECT_LE(stack.frames.size(), 5u);
  // The deep sample: its two root frames, the marker, its two leaf frames (to_profile made
  // location 0 of f2, 1 of f1, 2 of f0; the sample cycles through them leaf first).
  bool found = false;
  for (size_t s = 0; s < folded.stacks.size(); ++s) {
    if (folded.stacks[s].value != 2) continue;
    found = true;
    EXPECT_EQ(names(folded, s), (std::vector<std::string>{"f2", "f0", std::string(kElidedFrames), "f1", "f2"}));
  }
  EXPECT_TRUE(found) << format_folded(folded);
  // The frame limit counts what is left after the cut.
  limits.max_frames = 6;
  Profile again = to_profile(*parsed);
  again.samples.push_back(deep);
  auto refused = apply_limits(again, limits, "p.pb");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(),
            "p.pb: more than 6 frames in all stacks (the limit; --max-frames raises it)");
}

TEST(Limits, FoldedCountsThatWouldWrapAreRefused) {
  auto parsed = parse_folded("main;a 9223372036854775807\nmain;a 9223372036854775807\n", "big.folded");
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message(),
            "big.folded:2: the sample counts add up past 9223372036854775807, the largest total "
            "ember can hold");
}

}  // namespace
}  // namespace ember::profile
