#include "profile/string_table.h"

namespace ember::profile {

StringTable::StringTable() { intern(""); }

StringTable::StringTable(const StringTable& other) {
  for (const auto& s : other.strings_) append(s);
}

StringTable& StringTable::operator=(const StringTable& other) {
  if (this != &other) {
    strings_.clear();
    index_.clear();
    for (const auto& s : other.strings_) append(s);
  }
  return *this;
}

StringId StringTable::intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return StringId{it->second};
  return append(s);
}

StringId StringTable::append(std::string_view s) {
  auto id = static_cast<uint32_t>(strings_.size());
  const std::string& stored = strings_.emplace_back(s);
  index_.try_emplace(std::string_view(stored), id);
  return StringId{id};
}

void StringTable::replace(StringId id, std::string text) {
  std::string& stored = strings_[id.value];
  if (auto it = index_.find(stored); it != index_.end() && it->second == id.value) index_.erase(it);
  stored = std::move(text);
  stored.shrink_to_fit();
  index_.try_emplace(std::string_view(stored), id.value);
}

}  // namespace ember::profile
