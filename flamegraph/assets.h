#pragma once
// The page's script and style, embedded in every SVG. The sources are assets/flamegraph.js and
// assets/flamegraph.css; the build turns them into these strings (embed_assets.cmake).

#include <string_view>

namespace ember::flamegraph::assets {

extern const std::string_view kScript;  // contains no "]]>": it goes in a CDATA section
extern const std::string_view kStyle;

}  // namespace ember::flamegraph::assets
