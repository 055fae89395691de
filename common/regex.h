#pragma once
// Regular expressions from users (emberd's comm= query parameter, [targets] names) matched in
// time linear in the text: RE2 compiles to automata and never backtracks, so no pattern can
// make a match run for minutes (std::regex took exponential time on "(.*)*(.*)*(.*)*x").
// The syntax is RE2's (Perl-like: classes, alternation, repetition, non-capturing groups; no
// backreferences or lookaround: those are refused with RE2's reason).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace re2 {
class RE2;
}

namespace ember::common {

class Regex {
 public:
  // Bounds on what one pattern may cost: its length, and the memory RE2 may use for its
  // compiled program and automata (past it RE2 refuses the pattern as too large).
  static constexpr size_t kMaxPatternChars = 4096;
  static constexpr int64_t kMaxProgramBytes = int64_t{8} << 20;

  // kInvalidArgument naming the pattern and the reason: "invalid regex '(a': missing ): (a".
  [[nodiscard]] static Result<Regex> compile(std::string_view pattern, size_t max_chars = kMaxPatternChars);

  // True when the pattern matches anywhere in `text` (like grep; anchor with ^ and $).
  bool search(std::string_view text) const;
  // True when the pattern matches the whole of `text`. `groups` (when given) is numbered as
  // std::smatch is: [0] the whole match, [i] capturing group i (empty when it took no part).
  bool full_match(std::string_view text, std::vector<std::string>* groups = nullptr) const;
  // Every match, left to right, not overlapping, each numbered as in full_match.
  std::vector<std::vector<std::string>> find_all(std::string_view text) const;
  // `text` with every match replaced by `rewrite`, in which \1 to \9 name the groups.
  std::string replace_all(std::string_view text, std::string_view rewrite) const;
  // The pattern as given.
  const std::string& pattern() const { return pattern_; }

 private:
  Regex(std::string pattern, std::shared_ptr<const re2::RE2> re) : pattern_(std::move(pattern)), re_(std::move(re)) {}
  std::string pattern_;
  // Shared and const: RE2 objects are thread-safe for matching, and copies stay cheap.
  std::shared_ptr<const re2::RE2> re_;
};

// `text` with every regex metacharacter escaped, so that it matches itself: "a.b" -> "a\\.b".
std::string regex_escape(std::string_view text);

}  // namespace ember::common
