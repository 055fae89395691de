// The checker the other tests rely on must itself reject what is not XML.
#include "xml_check.h"

#include <gtest/gtest.h>

namespace ember::flamegraph::testing {
namespace {

TEST(XmlCheck, AcceptsWellFormedDocumentsAndDecodes) {
  auto doc = parse_xml(
      "<?xml version=\"1.0\"?>\n<!-- c -->\n<a x='1' y=\"&lt;&amp;&#x41;&#66;\">t&gt;"
      "<![CDATA[<raw>&]]><b/><c>u</c></a>\n");
  ASSERT_TRUE(doc) << doc.error();
  EXPECT_EQ(*doc->attribute("y"), "<&AB");
  EXPECT_EQ(doc->text_content(), "t><raw>&u");
  EXPECT_EQ(doc->all("b").size(), 1u);
}

TEST(XmlCheck, RejectsWhatXmlForbids) {
  const char* bad[] = {
      "<a><b></a></b>",              // crossed tags
      "<a>x < y</a>",                 // raw '<'
      "<a>AT&T</a>",                  // bare '&'
      "<a>&nbsp;</a>",                // entity without a DTD
      "<a>]]></a>",                   // CDATA end in text
      "<a x=\"<\"/>",                 // '<' in an attribute
      "<a x=\"1\" x=\"2\"/>",         // duplicate attribute
      "<a>\x01</a>",                  // control character
      "<a>&#1;</a>",                  // reference to one
      "<a>\xff</a>",                  // invalid UTF-8
      "<a>\xc0\xaf</a>",              // overlong UTF-8
      "<a>\xed\xa0\x80</a>",          // UTF-16 surrogate
      "<a><!-- x -- y --></a>",       // "--" in a comment
      "<a/><b/>",                     // two roots
      "<a>",                          // unterminated
      "<a x=1/>",                     // unquoted attribute
      "<a><![CDATA[x</a>",            // unterminated CDATA
  };
  for (const char* doc : bad) {
    EXPECT_FALSE(parse_xml(doc)) << doc;
  }
}

}  // namespace
}  // namespace ember::flamegraph::testing
