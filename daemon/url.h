#pragma once
// URL pieces shared by the API (reading queries, writing links) and the push client (writing
// Pyroscope ingest URLs).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace ember::daemon {

// Query strings: "a=1&b=x%20y" -> {("a","1"), ("b","x y")}. Errors name the problem; control
// characters, more than 64 parameters and values over 1 KiB are refused.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> parse_query_string(std::string_view query);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view text);

}  // namespace ember::daemon
