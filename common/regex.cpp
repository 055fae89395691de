#include "common/regex.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace ember::common {

Result<Regex> Regex::compile(std::string_view pattern, size_t max_chars) {
  if (pattern.size() > max_chars) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("regex is longer than {} characters", max_chars));
  }
  RE2::Options options;
  options.set_log_errors(false);  // the error comes back to the caller, not to stderr
  options.set_max_mem(kMaxProgramBytes);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid regex '{}': {}", pattern, re->error()));
  }
  return Regex(std::string(pattern), std::move(re));
}

bool Regex::search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::string regex_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace ember::common
