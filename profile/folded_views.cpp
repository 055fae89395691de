#include "profile/folded_views.h"

#include <algorithm>
#include <map>

namespace ember::profile {

namespace {

// Collects stacks by their names, summing equal ones, and hands them over sorted.
class StackSet {
 public:
  explicit StackSet(const FoldedStacks& from) {
    out_.value_type = from.value_type;
    out_.value_unit = from.value_unit;
  }
  void add(const std::vector<std::string_view>& names, int64_t value) {
    std::vector<StringId> ids;
    ids.reserve(names.size());
    for (std::string_view n : names) ids.push_back(out_.names.intern(n));
    auto [it, inserted] = index_.try_emplace(ids, out_.stacks.size());
    if (inserted) {
      out_.stacks.push_back(FoldedStacks::Stack{std::move(ids), value});
    } else {
      out_.stacks[it->second].value += value;
    }
  }
  FoldedStacks finish() && { return std::move(out_); }

 private:
  FoldedStacks out_;
  std::map<std::vector<StringId>, size_t> index_;
};

}  // namespace

FoldedStacks reverse_stacks(const FoldedStacks& stacks) {
  StackSet out(stacks);
  std::vector<std::string_view> names;
  for (const FoldedStacks::Stack& s : stacks.stacks) {
    names.clear();
    for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) names.push_back(stacks.names.get(*it));
    out.add(names, s.value);
  }
  return std::move(out).finish();
}

std::string callers_root(std::string_view name) { return "callers of " + std::string(name); }

FoldedStacks focus_stacks(const FoldedStacks& stacks, const common::Regex& function) {
  StackSet out(stacks);
  std::vector<std::string_view> names;
  std::string root;
  for (const FoldedStacks::Stack& s : stacks.stacks) {
    auto match = std::find_if(s.frames.begin(), s.frames.end(),
                              [&](StringId id) { return function.search(stacks.names.get(id)); });
    if (match == s.frames.end()) continue;
    // Callees: the matched function and what it called, root first.
    names.clear();
    for (auto it = match; it != s.frames.end(); ++it) names.push_back(stacks.names.get(*it));
    out.add(names, s.value);
    // Callers: nearest caller first, above a root that names the function.
    root = callers_root(stacks.names.get(*match));
    names.clear();
    names.push_back(root);
    for (auto it = std::make_reverse_iterator(match); it != s.frames.rend(); ++it) {
      names.push_back(stacks.names.get(*it));
    }
    out.add(names, s.value);
  }
  return std::move(out).finish();
}

}  // namespace ember::profile
