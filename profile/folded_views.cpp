#include "profile/folded_views.h"

#include <algorithm>
#include <map>

namespace ember::profile {

namespace {

// Copies names (and where their code is) from one table into another.
class NameCopier {
 public:
  NameCopier(const FoldedStacks& from, FoldedStacks& to) : from_(from), to_(to) {
    to_.value_type = from.value_type;
    to_.value_unit = from.value_unit;
  }
  StringId take(StringId from_id) {
    StringId id = to_.names.intern(from_.names.get(from_id));
    std::string_view source = from_.source(from_id);
    if (!source.empty()) {
      if (to_.sources.size() <= id.value) to_.sources.resize(id.value + 1);
      to_.sources[id.value] = source;
    }
    return id;
  }

 private:
  const FoldedStacks& from_;
  FoldedStacks& to_;
};

// Collects stacks, summing equal ones.
class StackSet {
 public:
  explicit StackSet(std::vector<FoldedStacks::Stack>& into) : into_(into) {}
  void add(const std::vector<StringId>& ids, int64_t value) {
    auto [it, inserted] = index_.try_emplace(ids, into_.size());
    if (inserted) {
      into_.push_back(FoldedStacks::Stack{ids, value});
    } else {
      into_[it->second].value += value;
    }
  }

 private:
  std::vector<FoldedStacks::Stack>& into_;
  std::map<std::vector<StringId>, size_t> index_;
};

}  // namespace

FoldedStacks reverse_stacks(const FoldedStacks& stacks) {
  FoldedStacks out;
  NameCopier names(stacks, out);
  StackSet set(out.stacks);
  std::vector<StringId> ids;
  for (const FoldedStacks::Stack& s : stacks.stacks) {
    ids.clear();
    for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) ids.push_back(names.take(*it));
    set.add(ids, s.value);
  }
  return out;
}

std::string callers_root(std::string_view name) { return "callers of " + std::string(name); }

Sandwich sandwich_stacks(const FoldedStacks& stacks, const common::Regex& function) {
  Sandwich out;
  NameCopier names(stacks, out.callees);
  StackSet callees(out.callees.stacks);
  StackSet callers(out.callers);
  std::vector<StringId> ids;
  for (const FoldedStacks::Stack& s : stacks.stacks) {
    auto match = std::find_if(s.frames.begin(), s.frames.end(),
                              [&](StringId id) { return function.search(stacks.names.get(id)); });
    if (match == s.frames.end()) continue;
    ids.clear();
    for (auto it = match; it != s.frames.end(); ++it) ids.push_back(names.take(*it));
    callees.add(ids, s.value);
    ids.clear();
    for (auto it = std::make_reverse_iterator(match + 1); it != s.frames.rend(); ++it) {
      ids.push_back(names.take(*it));
    }
    callers.add(ids, s.value);
  }
  return out;
}

FoldedStacks focus_stacks(const FoldedStacks& stacks, const common::Regex& function) {
  Sandwich sandwich = sandwich_stacks(stacks, function);
  FoldedStacks out = std::move(sandwich.callees);
  StackSet set(out.stacks);
  for (FoldedStacks::Stack& s : sandwich.callers) {
    s.frames.front() = out.names.intern(callers_root(out.names.get(s.frames.front())));
    set.add(s.frames, s.value);
  }
  return out;
}

}  // namespace ember::profile
