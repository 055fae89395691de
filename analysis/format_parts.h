#pragma once
// Pieces of text every report of analysis/ writes the same way (internal to analysis/).

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ember::analysis {

// "1 run", "3 runs"
std::string plural(size_t n, std::string_view one, std::string_view many);

// A function name as a Markdown code span that survives a table: pipes escaped, backticks
// fenced, and names longer than 200 characters (template-heavy C++; GitHub caps a comment at
// 65,536) cut to their start and end around an ellipsis.
std::string markdown_code(std::string_view name);

// "`a.pb.gz`, `b.pb.gz` and 3 more" (at most 10 named).
std::string sources_text(const std::vector<std::string>& sources);

// A finite number, or null (JSON has no infinity).
nlohmann::json json_number(double v);

}  // namespace ember::analysis
