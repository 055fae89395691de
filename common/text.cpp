#include "common/text.h"

namespace ember::common {

void append_thousands(std::string& out, uint64_t magnitude, bool negative) {
  char digits[32];
  int n = 0;
  do {
    if (n % 4 == 3) digits[n++] = ',';
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (negative) out += '-';
  while (n > 0) out += digits[--n];
}

std::string thousands(uint64_t n) {
  std::string out;
  append_thousands(out, n);
  return out;
}

std::string count_of(uint64_t n, std::string_view noun) {
  std::string out = std::to_string(n);
  out += ' ';
  out += noun;
  if (n != 1) out += 's';
  return out;
}

void append_markup_escaped(std::string& out, std::string_view text) {
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view entity;
    switch (text[i]) {
      case '&': entity = "&amp;"; break;
      case '<': entity = "&lt;"; break;
      case '>': entity = "&gt;"; break;  // also keeps "]]>" out of text
      case '"': entity = "&quot;"; break;
      case '\'': entity = "&#39;"; break;
      default: continue;
    }
    out.append(text.substr(run, i - run));
    out += entity;
    run = i + 1;
  }
  out.append(text.substr(run));
}

std::string markup_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_markup_escaped(out, text);
  return out;
}

}  // namespace ember::common
