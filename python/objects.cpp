#include "python/objects.h"

#include <cstring>

#include "python/bytes.h"

namespace ember::python {

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

std::optional<StringHeader> parse_string_header(std::span<const std::byte> head,
                                                const Layout& layout, size_t max_bytes) {
  if (head.size() < layout.unicode_ascii_size || layout.unicode_state + 4 > head.size() ||
      layout.unicode_length + 8 > head.size()) {
    return std::nullopt;
  }
  // state: interned:2, kind:3, compact:1, ascii:1, then ready (≤ 3.11) or
  // statically_allocated (3.12+), which ember does not need.
  uint32_t state = load<uint32_t>(head, layout.unicode_state);
  int64_t length = load<int64_t>(head, layout.unicode_length);
  StringHeader h;
  h.kind = static_cast<int>((state >> 2) & 7);
  bool compact = (state >> 5) & 1;
  h.ascii = (state >> 6) & 1;
  if (!compact || (h.kind != 1 && h.kind != 2 && h.kind != 4) || (h.ascii && h.kind != 1)) {
    return std::nullopt;
  }
  if (length < 0 || static_cast<uint64_t>(length) > max_bytes / static_cast<uint64_t>(h.kind)) {
    return std::nullopt;
  }
  h.length = static_cast<uint64_t>(length);
  h.data_offset = h.ascii ? layout.unicode_ascii_size : layout.unicode_compact_size;
  h.data_bytes = h.length * static_cast<size_t>(h.kind);
  return h;
}

std::optional<std::string> decode_string_data(std::span<const std::byte> data,
                                              const StringHeader& header) {
  if (data.size() != header.data_bytes) return std::nullopt;
  std::string out;
  if (header.ascii) {
    out.assign(reinterpret_cast<const char*>(data.data()), data.size());
    for (char c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) return std::nullopt;
    }
    return out;
  }
  out.reserve(data.size() + data.size() / 2);
  for (size_t i = 0; i < header.length; ++i) {
    uint32_t cp = 0;
    switch (header.kind) {
      case 1: cp = static_cast<uint8_t>(data[i]); break;
      case 2: cp = load<uint16_t>(data, i * 2); break;
      default: cp = load<uint32_t>(data, i * 4); break;
    }
    if (cp > 0x10ffff) return std::nullopt;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    append_utf8(out, cp);
  }
  return out;
}

std::optional<size_t> parse_bytes_size(std::span<const std::byte> head, const Layout& layout,
                                       size_t max_bytes) {
  if (layout.bytes_size + 8 > head.size()) return std::nullopt;
  int64_t size = load<int64_t>(head, layout.bytes_size);
  if (size < 0 || static_cast<uint64_t>(size) > max_bytes) return std::nullopt;
  return static_cast<size_t>(size);
}

}  // namespace ember::python
