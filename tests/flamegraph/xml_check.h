#pragma once
// A strict little XML 1.0 parser for the tests: it rejects what a conforming parser rejects in
// documents without a DTD (bad UTF-8, characters XML forbids, unknown entities, unbalanced or
// duplicate markup, "]]>" in text, "--" in comments) and gives back a tree to query.

#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::flamegraph::testing {

struct XmlNode {
  std::string name;  // element name; empty for a text node
  std::vector<std::pair<std::string, std::string>> attributes;  // values decoded
  std::vector<std::unique_ptr<XmlNode>> children;
  std::string text;  // a text node's decoded characters (CDATA included)

  bool is_element() const { return !name.empty(); }
  // The attribute's decoded value, or nullptr.
  const std::string* attribute(std::string_view key) const;
  // All text below this node, as the DOM's textContent.
  std::string text_content() const;
  // Elements named `element` in document order, this one included.
  std::vector<const XmlNode*> all(std::string_view element) const;
  // The element whose id is `id`, or nullptr.
  const XmlNode* by_id(std::string_view id) const;
  // Element children only.
  std::vector<const XmlNode*> elements() const;
};

// The root element, or "line L, column C: problem".
std::expected<XmlNode, std::string> parse_xml(std::string_view document);

}  // namespace ember::flamegraph::testing
