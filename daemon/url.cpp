#include "daemon/url.h"

#include <fmt/format.h>

#include <cctype>

namespace ember::daemon {

namespace {

// Bounds on what a client may send: a query string is parsed before anything checks it.
constexpr size_t kMaxParams = 64;
constexpr size_t kMaxValueBytes = 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[nodiscard]] Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return make_error(ErrorCode::kInvalidArgument, "truncated %-escape in the query string");
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return make_error(ErrorCode::kInvalidArgument, "invalid %-escape in the query string");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  for (char c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return make_error(ErrorCode::kInvalidArgument, "control characters are not accepted in query values");
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_query_string(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    if (out.size() >= kMaxParams) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("more than {} query parameters", kMaxParams));
    }
    size_t eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq));
    if (!key) return std::unexpected(key.error());
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!value) return std::unexpected(value.error());
    if (value->size() > kMaxValueBytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: the value is longer than {} bytes", key->substr(0, 32), kMaxValueBytes));
    }
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

}  // namespace ember::daemon
