#pragma once
// Turning arbitrary frame names into text that XML, JSON and the page's script can carry.
// Names come from binaries and profiles that may be hostile: any byte string must give
// well-formed, inert output.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/text.h"

namespace ember::flamegraph {

// `text` as valid UTF-8 that XML 1.0 accepts as character data: invalid UTF-8 (including
// overlong forms and surrogates), C0 and C1 control characters, DEL, U+FFFE and U+FFFF each
// become U+FFFD. Returns `text` unchanged (and cheaply) when it is already clean.
std::string displayable(std::string_view text);

// Appends displayable `text` with & < > " ' escaped, fit for element content and attributes.
// `text` must already be displayable(). (The escaping is common::append_markup_escaped, which
// HTML shares.)
inline void append_xml_escaped(std::string& out, std::string_view text) { common::append_markup_escaped(out, text); }

// Appends displayable `text` as a JSON string literal in which < > & are \u escapes, so that it
// can stand in any XML text or CDATA section and never end it ("]]>") or open markup.
void append_json_string(std::string& out, std::string_view text);

// Number of code points in valid UTF-8.
size_t code_points(std::string_view utf8);

// The first `count` code points of valid UTF-8.
std::string_view first_code_points(std::string_view utf8, size_t count);

}  // namespace ember::flamegraph
