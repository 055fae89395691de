#pragma once
// Reads one section of emberd's TOML configuration into typed fields. Every read checks the
// type and the range and names the file, line, column and key when they are wrong; the first
// problem is kept and every later read of the section is skipped, so a section is read as a
// plain list of reads followed by one `finish()`. Keys nobody read are reported by finish():
// a typo ("intervall") must be an error, not a silently ignored setting.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

#include "common/error.h"
#include "daemon/units.h"

namespace ember::daemon {

class ConfigSection {
 public:
  // `table` may be null (the section is absent: every read leaves its field alone).
  ConfigSection(const toml::table* table, std::string name, std::string_view source)
      : table_(table), name_(std::move(name)), source_(source) {}

  // Each read leaves `out` alone when the key is absent or an earlier read failed.
  void read(std::string_view key, bool& out);
  void read(std::string_view key, std::string& out);
  void read_int(std::string_view key, uint64_t& out, int64_t min, int64_t max);
  void read_int(std::string_view key, uint32_t& out, int64_t min, int64_t max);
  void read_duration(std::string_view key, Duration& out, Duration min, Duration max);
  // A whole number of bytes or a string such as "64MiB".
  void read_bytes(std::string_view key, uint64_t& out, uint64_t min, uint64_t max);
  void read_strings(std::string_view key, std::vector<std::string>& out, size_t max_items);
  void read_pids(std::string_view key, std::vector<int32_t>& out, size_t max_items);
  void read_string_map(std::string_view key, std::map<std::string, std::string>& out, size_t max_items);

  // True when the key is written in the file.
  bool has(std::string_view key) const { return table_ && table_->contains(key); }
  // The first problem, else an unknown key, else success.
  [[nodiscard]] Result<void> finish() const;
  // "SOURCE: SECTION.KEY: WHAT", for checks made after reading.
  [[nodiscard]] Error invalid(std::string_view key, std::string_view what) const;

 private:
  // The node of `key` when it should be read now.
  const toml::node* find(std::string_view key);
  void fail_at(const toml::node& n, std::string_view key, std::string_view what);
  void fail_type(const toml::node& n, std::string_view key, std::string_view expected);
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max);

  const toml::table* table_;
  std::string name_;
  std::string_view source_;
  std::set<std::string, std::less<>> used_;
  std::optional<Error> error_;
};

}  // namespace ember::daemon
