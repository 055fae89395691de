#pragma once
// Decoding CPython objects (str, bytes) from bytes copied out of the target. The copies may be
// torn or garbage: each function checks what it reads and answers nullopt rather than guess.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "python/layout.h"

namespace ember::python {

// What the header of a compact str object says about its characters.
struct StringHeader {
  uint64_t length = 0;     // in code points
  int kind = 1;            // bytes per code point: 1, 2 or 4
  bool ascii = false;      // kind 1 and every character < 128
  size_t data_offset = 0;  // from the start of the object
  size_t data_bytes = 0;   // length * kind
};

// Parses a str header (`head` holds the object's first layout.unicode_ascii_size bytes: the
// PyASCIIObject part every str has; the compact fields after it are not needed). Refuses
// non-compact (legacy) strings, impossible kinds, and data longer than `max_bytes`.
std::optional<StringHeader> parse_string_header(std::span<const std::byte> head,
                                                const Layout& layout, size_t max_bytes);

// Converts the characters (exactly header.data_bytes bytes) to UTF-8. Lone surrogates become
// U+FFFD; an ASCII string with a byte >= 128 or a code point above U+10FFFF is refused.
std::optional<std::string> decode_string_data(std::span<const std::byte> data,
                                              const StringHeader& header);

// The ob_size of a bytes object whose first bytes are `head`, when it is at most `max_bytes`.
std::optional<size_t> parse_bytes_size(std::span<const std::byte> head, const Layout& layout,
                                       size_t max_bytes);

}  // namespace ember::python
