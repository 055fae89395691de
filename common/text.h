#pragma once
// Small text forms shared by the command line, the daemon and the renderers: one of each.

#include <cstdint>
#include <string>
#include <string_view>

namespace ember::common {

// 1234567 -> "1,234,567"; `negative` puts a '-' in front (for the magnitude of a negative
// value: INT64_MIN has no positive int64_t counterpart).
void append_thousands(std::string& out, uint64_t magnitude, bool negative = false);
std::string thousands(uint64_t n);

// "1 value", "2 values": a count and a regular English noun.
std::string count_of(uint64_t n, std::string_view noun);

// & < > " ' as entities: text fit for HTML and XML element content and quoted attributes.
void append_markup_escaped(std::string& out, std::string_view text);
std::string markup_escaped(std::string_view text);

}  // namespace ember::common
