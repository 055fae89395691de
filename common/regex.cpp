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

bool Regex::full_match(std::string_view text, std::vector<std::string>* groups) const {
  const int n = re_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(n) + 1);
  if (!re_->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::ANCHOR_BOTH, pieces.data(),
                  n + 1)) {
    return false;
  }
  if (groups) {
    groups->clear();
    for (const re2::StringPiece& p : pieces) groups->emplace_back(p.data(), p.size());
  }
  return true;
}

std::vector<std::vector<std::string>> Regex::find_all(std::string_view text) const {
  const int n = re_->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(n) + 1);
  const re2::StringPiece whole(text.data(), text.size());
  std::vector<std::vector<std::string>> out;
  size_t pos = 0;
  while (pos <= text.size() && re_->Match(whole, pos, text.size(), RE2::UNANCHORED, pieces.data(), n + 1)) {
    std::vector<std::string> groups;
    for (const re2::StringPiece& p : pieces) groups.emplace_back(p.data(), p.size());
    out.push_back(std::move(groups));
    const size_t end = static_cast<size_t>(pieces[0].data() - text.data()) + pieces[0].size();
    pos = pieces[0].empty() ? end + 1 : end;  // an empty match moves on by one
  }
  return out;
}

std::string Regex::replace_all(std::string_view text, std::string_view rewrite) const {
  std::string out(text);
  RE2::GlobalReplace(&out, *re_, re2::StringPiece(rewrite.data(), rewrite.size()));
  return out;
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
