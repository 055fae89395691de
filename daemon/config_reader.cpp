#include "daemon/config_reader.h"

#include <fmt/format.h>

namespace ember::daemon {

const toml::node* ConfigSection::find(std::string_view key) {
  used_.insert(std::string(key));
  if (!table_ || error_) return nullptr;
  return table_->get(key);
}

void ConfigSection::fail_at(const toml::node& n, std::string_view key, std::string_view what) {
  if (error_) return;
  const auto& where = n.source().begin;
  error_ = Error(ErrorCode::kInvalidArgument, fmt::format("{}:{}:{}: {}{}{}: {}", source_, where.line, where.column,
                                                          name_, name_.empty() ? "" : ".", key, what));
}

void ConfigSection::fail_type(const toml::node& n, std::string_view key, std::string_view expected) {
  fail_at(n, key, fmt::format("expected {}", expected));
}

Error ConfigSection::invalid(std::string_view key, std::string_view what) const {
  return Error(ErrorCode::kInvalidArgument, fmt::format("{}: {}.{}: {}", source_, name_, key, what));
}

void ConfigSection::read(std::string_view key, bool& out) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_boolean()) return fail_type(*n, key, "true or false");
  out = n->as_boolean()->get();
}

void ConfigSection::read(std::string_view key, std::string& out) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_string()) return fail_type(*n, key, "a string");
  out = n->as_string()->get();
}

std::optional<int64_t> ConfigSection::integer(std::string_view key, int64_t min, int64_t max) {
  const toml::node* n = find(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) {
    fail_type(*n, key, "a whole number");
    return std::nullopt;
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    fail_at(*n, key, fmt::format("{} is out of range ({} to {})", v, min, max));
    return std::nullopt;
  }
  return v;
}

void ConfigSection::read_int(std::string_view key, uint64_t& out, int64_t min, int64_t max) {
  if (auto v = integer(key, min, max)) out = static_cast<uint64_t>(*v);
}

void ConfigSection::read_int(std::string_view key, uint32_t& out, int64_t min, int64_t max) {
  if (auto v = integer(key, min, max)) out = static_cast<uint32_t>(*v);
}

void ConfigSection::read_duration(std::string_view key, Duration& out, Duration min, Duration max) {
  const toml::node* n = find(key);
  if (!n) return;
  if (!n->is_string()) return fail_type(*n, key, "a duration string such as \"60s\"");
  auto d = parse_duration(n->as_string()->get());
  if (!d) return fail_at(*n, key, d.error().message());
  if (*d < min || *d > max) {
    return fail_at(*n, key, fmt::format("{} is out of range ({} to {})", format_duration(*d), format_duration(min),
                                        format_duration(max)));
  }
  out = *d;
}

void ConfigSection::read_bytes(std::string_view key, uint64_t& out, uint64_t min, uint64_t max) {
  const toml::node* n = find(key);
  if (!n) return;
  Result<uint64_t> v = make_error(ErrorCode::kInvalidArgument, "expected a size such as \"64MiB\"");
  if (n->is_integer() && n->as_integer()->get() >= 0) {
    v = static_cast<uint64_t>(n->as_integer()->get());
  } else if (n->is_string()) {
    v = parse_bytes(n->as_string()->get());
  }
  if (!v) return fail_at(*n, key, v.error().message());
  if (*v < min || *v > max) {
    return fail_at(*n, key, fmt::format("{} is out of range ({} to {})", format_bytes(*v), format_bytes(min),
                                        format_bytes(max)));
  }
  out = *v;
}

void ConfigSection::read_strings(std::string_view key, std::vector<std::string>& out, size_t max_items) {
  const toml::node* n = find(key);
  if (!n) return;
  const toml::array* a = n->as_array();
  if (!a) return fail_type(*n, key, "an array of strings");
  if (a->size() > max_items) return fail_at(*n, key, fmt::format("more than {} entries", max_items));
  std::vector<std::string> values;
  for (const toml::node& item : *a) {
    if (!item.is_string()) return fail_type(item, key, "an array of strings");
    values.push_back(item.as_string()->get());
  }
  out = std::move(values);
}

void ConfigSection::read_pids(std::string_view key, std::vector<int32_t>& out, size_t max_items) {
  const toml::node* n = find(key);
  if (!n) return;
  const toml::array* a = n->as_array();
  if (!a) return fail_type(*n, key, "an array of process IDs");
  if (a->size() > max_items) return fail_at(*n, key, fmt::format("more than {} entries", max_items));
  std::vector<int32_t> values;
  for (const toml::node& item : *a) {
    if (!item.is_integer() || item.as_integer()->get() <= 0 || item.as_integer()->get() > INT32_MAX) {
      return fail_type(item, key, "an array of process IDs (positive whole numbers)");
    }
    values.push_back(static_cast<int32_t>(item.as_integer()->get()));
  }
  out = std::move(values);
}

void ConfigSection::read_string_map(std::string_view key, std::map<std::string, std::string>& out,
                                    size_t max_items) {
  const toml::node* n = find(key);
  if (!n) return;
  const toml::table* t = n->as_table();
  if (!t) return fail_type(*n, key, "a table of strings");
  if (t->size() > max_items) return fail_at(*n, key, fmt::format("more than {} entries", max_items));
  std::map<std::string, std::string> values;
  for (auto&& [k, v] : *t) {
    if (!v.is_string()) return fail_type(v, key, "a table of strings");
    values[std::string(k.str())] = v.as_string()->get();
  }
  out = std::move(values);
}

Result<void> ConfigSection::finish() const {
  if (error_) return std::unexpected(*error_);
  if (!table_) return {};
  for (auto&& [k, v] : *table_) {
    if (used_.contains(k.str())) continue;
    const auto& where = v.source().begin;
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}:{}:{}: {}{}{}: unknown key (see the default configuration for the valid keys)",
                                  source_, where.line, where.column, name_, name_.empty() ? "" : ".", k.str()));
  }
  return {};
}

}  // namespace ember::daemon
