#include "analysis/format_parts.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace ember::analysis {

namespace {

constexpr size_t kMaxMarkdownName = 200;
constexpr size_t kMaxListedSources = 10;

// Cuts at a UTF-8 character boundary at or before `pos`.
size_t char_boundary(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

std::string plural(size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string markdown_code(std::string_view name) {
  std::string shown;
  if (name.size() > kMaxMarkdownName) {
    size_t head = char_boundary(name, kMaxMarkdownName * 3 / 5);
    size_t tail = char_boundary(name, name.size() - (kMaxMarkdownName - head - 1));
    shown = std::string(name.substr(0, head)) + "…" + std::string(name.substr(tail));
  } else {
    shown = name;
  }
  std::string escaped;
  for (char ch : shown) {
    if (ch == '|') escaped += '\\';  // a pipe ends a table cell even inside a code span
    escaped += ch;
  }
  if (escaped.find('`') != std::string::npos) return "`` " + escaped + " ``";
  return "`" + escaped + "`";
}

std::string sources_text(const std::vector<std::string>& sources) {
  std::string s;
  for (size_t i = 0; i < sources.size() && i < kMaxListedSources; ++i) {
    if (i != 0) s += ", ";
    s += "`" + sources[i] + "`";
  }
  if (sources.size() > kMaxListedSources) {
    s += fmt::format(" and {} more", sources.size() - kMaxListedSources);
  }
  return s;
}

nlohmann::json json_number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace ember::analysis
