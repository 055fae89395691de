#include "common/text.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace ember::common {
namespace {

TEST(Text, ThousandsGroupsByThree) {
  EXPECT_EQ(thousands(0), "0");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(thousands(1000), "1,000");
  EXPECT_EQ(thousands(1234567), "1,234,567");
  EXPECT_EQ(thousands(UINT64_MAX), "18,446,744,073,709,551,615");
  std::string out = "x=";
  append_thousands(out, 9223372036854775808ull, true);
  EXPECT_EQ(out, "x=-9,223,372,036,854,775,808");
}

TEST(Text, MarkupEscapingLeavesNothingActive) {
  EXPECT_EQ(markup_escaped("<a href='x'>&\"]]>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;]]&gt;");
  EXPECT_EQ(markup_escaped("plain text"), "plain text");
  EXPECT_EQ(markup_escaped(""), "");
}

}  // namespace
}  // namespace ember::common
