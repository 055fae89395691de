#include "flamegraph/text.h"

#include <gtest/gtest.h>

#include "flamegraph/palette.h"
#include "flamegraph/value_format.h"

namespace ember::flamegraph {
namespace {

TEST(Text, DisplayableReplacesWhatXmlCannotCarry) {
  EXPECT_EQ(displayable("plain name(int)"), "plain name(int)");
  EXPECT_EQ(displayable("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x94\xa5"), "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x94\xa5");
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(displayable(std::string("a\x01" "b\x7f" "c", 5)), "a" + r + "b" + r + "c");
  EXPECT_EQ(displayable(std::string("\0", 1)), r);
  EXPECT_EQ(displayable("\xc2\x85"), r);                  // C1 control
  EXPECT_EQ(displayable("\xff"), r);                      // never valid
  EXPECT_EQ(displayable("\xc0\xaf"), r + r);              // overlong '/'
  EXPECT_EQ(displayable("\xed\xa0\x80"), r + r + r);      // surrogate
  EXPECT_EQ(displayable("\xef\xbf\xbe"), r);              // U+FFFE
  EXPECT_EQ(displayable("x\xe2\x82"), "x" + r + r);       // truncated
  EXPECT_EQ(displayable("\xf4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
}

TEST(Text, XmlEscapingCoversMarkupAndQuotes) {
  std::string out;
  append_xml_escaped(out, "<a href=\"x\">&'b']]>");
  EXPECT_EQ(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;b&#39;]]&gt;");
}

TEST(Text, JsonStringsCannotEndTheirSection) {
  std::string out;
  append_json_string(out, "</script>]]>&\"\\ \xe2\x80\xa8");
  EXPECT_EQ(out, "\"\\u003c/script\\u003e]]\\u003e\\u0026\\\"\\\\ \\u2028\"");
}

TEST(Text, CodePointsAndPrefixes) {
  EXPECT_EQ(code_points("a\xc3\xa9\xe2\x86\x92"), 3u);
  EXPECT_EQ(first_code_points("a\xc3\xa9\xe2\x86\x92z", 2), "a\xc3\xa9");
  EXPECT_EQ(first_code_points("ab", 5), "ab");
}

TEST(ValueFormat, CountsTimesAndBytes) {
  std::string out;
  ValueFormat("samples", "count").append(out, 1234567);
  EXPECT_EQ(out, "1,234,567 samples");
  out.clear();
  ValueFormat("samples", "count").append(out, 1);
  EXPECT_EQ(out, "1 sample");
  out.clear();
  ValueFormat("cpu", "nanoseconds").append(out, 999);
  EXPECT_EQ(out, "999 ns of CPU");
  out.clear();
  ValueFormat("cpu", "nanoseconds").append(out, 12'345'678);
  EXPECT_EQ(out, "12.35 ms of CPU");
  out.clear();
  ValueFormat("wall", "nanoseconds").append(out, 3'000'000'000);
  EXPECT_EQ(out, "3.00 s of wall");
  out.clear();
  ValueFormat("cpu", "nanoseconds").append(out, 3'998'941'525'424);
  EXPECT_EQ(out, "3,998.94 s of CPU");
  out.clear();
  ValueFormat("alloc_space", "bytes").append(out, 3 * 1024 * 1024);
  EXPECT_EQ(out, "3.00 MiB (alloc_space)");
  out.clear();
  ValueFormat("samples", "count").append_change(out, 120, 240);
  EXPECT_EQ(out, "120 → 240 samples");
  out.clear();
  ValueFormat("cpu", "nanoseconds").append_change(out, 1'200'000'000, 2'400'000'000);
  EXPECT_EQ(out, "1.20 s → 2.40 s of CPU");
  out.clear();
  append_grouped(out, INT64_MIN);
  EXPECT_EQ(out, "-9,223,372,036,854,775,808");
}

TEST(Palette, ColoursDependOnTheNameOnly) {
  // Pinned: a change here recolours every graph, and users compare graphs by eye.
  EXPECT_EQ(name_hash("main"), 0xb1375cb6f94d9218ull);
  EXPECT_EQ(frame_color("main"), (FrameColor{Hue::kHot, static_cast<uint8_t>(0xb1375cb6f94d9218ull % 64)}));
  // The suffix picks the hue, the bare name the shade.
  EXPECT_EQ(frame_color("read_[k]"),
            (FrameColor{Hue::kKernel, static_cast<uint8_t>(name_hash("read") % shades(Hue::kKernel))}));
  EXPECT_EQ(frame_color("run_[j]").hue, Hue::kJit);
  EXPECT_EQ(frame_color("[unknown]").hue, Hue::kUnknown);
}

TEST(Palette, PythonFramesHaveTheirOwnHueOneShadePerFunction) {
  const FrameColor at40 = frame_color("Server.handle (app.py:40)");
  EXPECT_EQ(at40.hue, Hue::kPython);
  EXPECT_EQ(at40.shade, name_hash("Server.handle") % shades(Hue::kPython));
  // Another line of the same function: the same colour.
  EXPECT_EQ(frame_color("Server.handle (app.py:41)"), at40);
  EXPECT_EQ(frame_color("<module> (<frozen runpy>)").hue, Hue::kPython);
  EXPECT_EQ(frame_color("zlib_compress_impl").hue, Hue::kHot);
  // Every shade has a CSS rule, with the class prefix 'p'.
  std::string css;
  append_palette_css(css);
  for (int s = 0; s < shades(Hue::kPython); ++s) {
    EXPECT_NE(css.find(".p" + std::to_string(s) + "{fill:#"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace ember::flamegraph
