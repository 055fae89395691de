#include "flamegraph/text.h"

#include <cstdint>

namespace ember::flamegraph {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode 3.9, table 3-7), or 0
// when the first byte starts none. `allowed` tells whether XML may carry the code point and a
// reader would want to see it.
size_t sequence(std::string_view s, bool* allowed) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  *allowed = true;
  if (c < 0x80) {
    *allowed = c >= 0x20 && c != 0x7F;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    if (s.size() < 2 || !is_continuation(b(1))) return 0;
    *allowed = !(c == 0xC2 && b(1) < 0xA0);  // C1 controls U+0080..U+009F: invisible noise
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (s.size() < 3 || !is_continuation(b(1)) || !is_continuation(b(2))) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // UTF-16 surrogates
    *allowed = !(c == 0xEF && b(1) == 0xBF && (b(2) == 0xBE || b(2) == 0xBF));  // U+FFFE/F
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (s.size() < 4 || !is_continuation(b(1)) || !is_continuation(b(2)) ||
        !is_continuation(b(3))) {
      return 0;
    }
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string displayable(std::string_view text) {
  size_t i = 0;
  bool allowed = true;
  // Fast path: most names are clean and are returned as they are.
  while (i < text.size()) {
    size_t n = sequence(text.substr(i), &allowed);
    if (n == 0 || !allowed) break;
    i += n;
  }
  if (i == text.size()) return std::string(text);
  std::string out(text.substr(0, i));
  while (i < text.size()) {
    size_t n = sequence(text.substr(i), &allowed);
    if (n == 0) {
      out += kReplacement;  // one per byte of an ill-formed sequence
      ++i;
    } else {
      if (allowed) out.append(text.substr(i, n));
      else out += kReplacement;  // one per disallowed character
      i += n;
    }
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    std::string_view escape;
    if (c == '"') escape = "\\\"";
    else if (c == '\\') escape = "\\\\";
    else if (c == '<') escape = "\\u003c";
    else if (c == '>') escape = "\\u003e";
    else if (c == '&') escape = "\\u0026";
    else if (c < 0x20) escape = "\\ufffd";  // cannot happen for displayable text; stay valid JSON
    else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(text[i + 2]) & 0xFE) == 0xA8) {
      // U+2028 and U+2029 end lines in older JavaScript string literals.
      escape = static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      out.append(text.substr(run, i - run));
      out += escape;
      i += 2;
      run = i + 1;
      continue;
    } else {
      continue;
    }
    out.append(text.substr(run, i - run));
    out += escape;
    run = i + 1;
  }
  out.append(text.substr(run));
  out += '"';
}

size_t code_points(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += !is_continuation(static_cast<unsigned char>(c));
  return n;
}

std::string_view first_code_points(std::string_view utf8, size_t count) {
  size_t seen = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if (!is_continuation(static_cast<unsigned char>(utf8[i]))) {
      if (seen == count) return utf8.substr(0, i);
      ++seen;
    }
  }
  return utf8;
}

}  // namespace ember::flamegraph
