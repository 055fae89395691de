#pragma once
// Interned strings, as pprof's string_table: id 0 is always the empty string.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ember::profile {

struct StringId {
  uint32_t value = 0;
  constexpr auto operator<=>(const StringId&) const = default;
};

class StringTable {
 public:
  StringTable();
  StringTable(const StringTable& other);
  StringTable& operator=(const StringTable& other);
  StringTable(StringTable&&) noexcept = default;
  StringTable& operator=(StringTable&&) noexcept = default;

  StringId intern(std::string_view s);
  // Appends without deduplication: decoders that must keep a file's own indices use this.
  StringId append(std::string_view s);
  // Replaces the text of `id` (e.g. a name shortened to a limit); the id stays valid.
  void replace(StringId id, std::string text);
  std::string_view get(StringId id) const { return strings_[id.value]; }
  bool contains(StringId id) const { return id.value < strings_.size(); }
  size_t size() const { return strings_.size(); }
  const std::deque<std::string>& strings() const { return strings_; }

 private:
  // A deque never moves its elements, so the views used as keys stay valid.
  std::deque<std::string> strings_;
  std::unordered_map<std::string_view, uint32_t> index_;
};

}  // namespace ember::profile
