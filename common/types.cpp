#include "common/types.h"

#include <fmt/format.h>

namespace ember::common {

BuildId::BuildId(std::span<const std::byte> bytes)
    : raw_(reinterpret_cast<const char*>(bytes.data()), bytes.size()) {}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

BuildId BuildId::from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return {};
  std::string raw;
  raw.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit(hex[i]);
    int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  return BuildId(std::move(raw));
}

std::string BuildId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw_.size() * 2);
  for (unsigned char c : raw_) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string hex_address(uint64_t value) { return fmt::format("0x{:x}", value); }

}  // namespace ember::common
