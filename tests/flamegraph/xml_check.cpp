#include "xml_check.h"

#include <cstdint>
#include <functional>

namespace ember::flamegraph::testing {

namespace {

bool is_xml_char(uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Strict UTF-8 decoding: the length of the sequence at `i` and its code point, or 0.
size_t decode(std::string_view s, size_t i, uint32_t* cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF))) return 0;
  if (v >= 0xD800 && v <= 0xDFFF) return 0;
  *cp = v;
  return n;
}

bool name_start(char c) {
  return c == ':' || c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool name_char(char c) {
  return name_start(c) || c == '-' || c == '.' || (c >= '0' && c <= '9');
}
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::expected<XmlNode, std::string> run() {
    for (size_t i = 0; i < s_.size();) {
      uint32_t cp;
      size_t n = decode(s_, i, &cp);
      if (n == 0) return fail_at(i, "invalid UTF-8");
      if (!is_xml_char(cp)) return fail_at(i, "character not allowed in XML");
      i += n;
    }
    if (s_.starts_with("<?xml") && s_.size() > 5 && space(s_[5])) {
      size_t end = s_.find("?>");
      if (end == npos) return fail("unterminated XML declaration");
      pos_ = end + 2;
    }
    if (auto e = misc(); !e.empty()) return fail(e);
    if (s_.substr(pos_).starts_with("<!DOCTYPE")) return fail("DOCTYPE is not expected");
    if (pos_ >= s_.size() || s_[pos_] != '<') return fail("no root element");
    XmlNode root;
    if (auto e = element(root); !e.empty()) return fail(e);
    if (auto e = misc(); !e.empty()) return fail(e);
    if (pos_ != s_.size()) return fail("content after the root element");
    return root;
  }

 private:
  static constexpr size_t npos = std::string_view::npos;

  std::unexpected<std::string> fail_at(size_t at, std::string_view what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return std::unexpected("line " + std::to_string(line) + ", column " + std::to_string(column) +
                           ": " + std::string(what));
  }
  std::unexpected<std::string> fail(std::string_view what) const {
    return fail_at(error_at_ == npos ? pos_ : error_at_, what);
  }
  std::string error(std::string what) {
    error_at_ = pos_;
    return what;
  }

  bool at(std::string_view token) const { return s_.substr(pos_).starts_with(token); }
  void skip_space() {
    while (pos_ < s_.size() && space(s_[pos_])) ++pos_;
  }

  std::string name(std::string* out) {
    if (pos_ >= s_.size() || !name_start(s_[pos_])) return error("expected a name");
    size_t start = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    *out = std::string(s_.substr(start, pos_ - start));
    return {};
  }

  std::string comment() {
    pos_ += 4;  // <!--
    size_t end = s_.find("--", pos_);
    if (end == npos) return error("unterminated comment");
    if (end + 2 >= s_.size() || s_[end + 2] != '>') {
      pos_ = end;
      return error("'--' inside a comment");
    }
    pos_ = end + 3;
    return {};
  }

  std::string processing_instruction() {
    pos_ += 2;
    std::string target;
    if (auto e = name(&target); !e.empty()) return e;
    if (target.size() == 3 && (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' &&
        (target[2] | 0x20) == 'l') {
      return error("XML declaration not at the start");
    }
    size_t end = s_.find("?>", pos_);
    if (end == npos) return error("unterminated processing instruction");
    pos_ = end + 2;
    return {};
  }

  std::string misc() {
    for (;;) {
      skip_space();
      if (at("<!--")) {
        if (auto e = comment(); !e.empty()) return e;
      } else if (at("<?")) {
        if (auto e = processing_instruction(); !e.empty()) return e;
      } else {
        return {};
      }
    }
  }

  // After '&': a predefined entity or a character reference, appended decoded.
  std::string reference(std::string& out) {
    size_t semi = s_.find(';', pos_);
    if (semi == npos || semi - pos_ > 12) return error("'&' that starts no reference");
    std::string_view ref = s_.substr(pos_ + 1, semi - pos_ - 1);
    if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref == "amp") out += '&';
    else if (ref == "quot") out += '"';
    else if (ref == "apos") out += '\'';
    else if (ref.starts_with('#')) {
      bool hex = ref.size() > 1 && ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) return error("empty character reference");
      uint32_t v = 0;
      for (char c : digits) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return error("bad character reference");
        v = v * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        if (v > 0x10FFFF) return error("character reference out of range");
      }
      if (!is_xml_char(v)) return error("character reference to a character XML forbids");
      append_utf8(out, v);
    } else {
      return error("unknown entity &" + std::string(ref) + ";");
    }
    pos_ = semi + 1;
    return {};
  }

  std::string attribute_value(std::string& out) {
    if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
      return error("attribute value without quotes");
    }
    char quote = s_[pos_++];
    while (pos_ < s_.size() && s_[pos_] != quote) {
      char c = s_[pos_];
      if (c == '<') return error("'<' in an attribute value");
      if (c == '&') {
        if (auto e = reference(out); !e.empty()) return e;
        continue;
      }
      // Attribute-value normalization: white space characters become spaces.
      out += (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
      ++pos_;
    }
    if (pos_ >= s_.size()) return error("unterminated attribute value");
    ++pos_;
    return {};
  }

  // Iterative, so that depth is bounded by memory rather than the call stack.
  std::string element(XmlNode& root) {
    std::vector<XmlNode*> open;
    auto start_tag = [&](XmlNode& node) -> std::string {
      ++pos_;  // '<'
      if (auto e = name(&node.name); !e.empty()) return e;
      for (;;) {
        bool had_space = pos_ < s_.size() && space(s_[pos_]);
        skip_space();
        if (pos_ >= s_.size()) return error("unterminated start tag");
        if (at("/>")) {
          pos_ += 2;
          return {};
        }
        if (s_[pos_] == '>') {
          ++pos_;
          open.push_back(&node);
          return {};
        }
        if (!had_space) return error("attributes must be separated by white space");
        std::string key, value;
        if (auto e = name(&key); !e.empty()) return e;
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != '=') return error("expected '=' after attribute name");
        ++pos_;
        skip_space();
        if (auto e = attribute_value(value); !e.empty()) return e;
        if (node.attribute(key) != nullptr) return error("duplicate attribute " + key);
        node.attributes.emplace_back(std::move(key), std::move(value));
      }
    };
    if (auto e = start_tag(root); !e.empty()) return e;
    while (!open.empty()) {
      XmlNode& parent = *open.back();
      if (pos_ >= s_.size()) return error("unterminated element <" + parent.name + ">");
      if (at("</")) {
        pos_ += 2;
        std::string end_name;
        if (auto e = name(&end_name); !e.empty()) return e;
        if (end_name != parent.name) {
          return error("</" + end_name + "> closes <" + parent.name + ">");
        }
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != '>') return error("malformed end tag");
        ++pos_;
        open.pop_back();
      } else if (at("<!--")) {
        if (auto e = comment(); !e.empty()) return e;
      } else if (at("<![CDATA[")) {
        size_t end = s_.find("]]>", pos_ + 9);
        if (end == npos) return error("unterminated CDATA section");
        text_child(parent).text += s_.substr(pos_ + 9, end - pos_ - 9);
        pos_ = end + 3;
      } else if (at("<?")) {
        if (auto e = processing_instruction(); !e.empty()) return e;
      } else if (at("<!")) {
        return error("markup declaration inside an element");
      } else if (s_[pos_] == '<') {
        auto child = std::make_unique<XmlNode>();
        XmlNode& ref = *child;
        parent.children.push_back(std::move(child));
        if (auto e = start_tag(ref); !e.empty()) return e;
      } else {
        std::string& text = text_child(parent).text;
        while (pos_ < s_.size() && s_[pos_] != '<') {
          if (s_[pos_] == '&') {
            if (auto e = reference(text); !e.empty()) return e;
            continue;
          }
          if (at("]]>")) return error("']]>' in character data");
          text += s_[pos_++];
        }
      }
    }
    return {};
  }

  XmlNode& text_child(XmlNode& parent) {
    if (parent.children.empty() || parent.children.back()->is_element()) {
      parent.children.push_back(std::make_unique<XmlNode>());
    }
    return *parent.children.back();
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t error_at_ = npos;
};

}  // namespace

const std::string* XmlNode::attribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string XmlNode::text_content() const {
  if (!is_element()) return text;
  std::string out;
  for (const auto& c : children) out += c->text_content();
  return out;
}

std::vector<const XmlNode*> XmlNode::all(std::string_view element) const {
  std::vector<const XmlNode*> out;
  std::function<void(const XmlNode&)> walk = [&](const XmlNode& n) {
    if (n.name == element) out.push_back(&n);
    for (const auto& c : n.children) walk(*c);
  };
  walk(*this);
  return out;
}

const XmlNode* XmlNode::by_id(std::string_view id) const {
  const std::string* mine = attribute("id");
  if (mine != nullptr && *mine == id) return this;
  for (const auto& c : children) {
    if (const XmlNode* found = c->by_id(id)) return found;
  }
  return nullptr;
}

std::vector<const XmlNode*> XmlNode::elements() const {
  std::vector<const XmlNode*> out;
  for (const auto& c : children) {
    if (c->is_element()) out.push_back(c.get());
  }
  return out;
}

std::expected<XmlNode, std::string> parse_xml(std::string_view document) {
  return Parser(document).run();
}

}  // namespace ember::flamegraph::testing
