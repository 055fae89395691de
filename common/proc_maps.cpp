#include "common/proc_maps.h"

#include <charconv>

#include "common/files.h"

namespace ember::common {

namespace {

constexpr size_t kMaxMapsBytes = 64u << 20;  // a process with a huge number of mappings

template <class T>
bool parse_number(std::string_view s, T& out, int base) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits off the next space-separated field.
std::string_view next_field(std::string_view& s) {
  size_t b = s.find_first_not_of(' ');
  if (b == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(b);
  size_t e = s.find(' ');
  std::string_view field = s.substr(0, e);
  s.remove_prefix(e == std::string_view::npos ? s.size() : e);
  return field;
}

}  // namespace

std::optional<MapsEntry> parse_maps_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  MapsEntry m;
  std::string_view range = next_field(line);
  std::string_view perms = next_field(line);
  std::string_view offset = next_field(line);
  std::string_view dev = next_field(line);
  std::string_view inode = next_field(line);
  size_t dash = range.find('-');
  size_t colon = dev.find(':');
  if (dash == std::string_view::npos || perms.size() < 4 || colon == std::string_view::npos) {
    return std::nullopt;
  }
  if (!parse_number(range.substr(0, dash), m.start, 16) ||
      !parse_number(range.substr(dash + 1), m.end, 16) || m.end < m.start ||
      !parse_number(offset, m.page_offset, 16) || !parse_number(dev.substr(0, colon), m.major, 16) ||
      !parse_number(dev.substr(colon + 1), m.minor, 16) || !parse_number(inode, m.inode, 10)) {
    return std::nullopt;
  }
  m.readable = perms[0] == 'r';
  m.writable = perms[1] == 'w';
  m.executable = perms[2] == 'x';
  m.shared = perms[3] == 's';
  // The path is the rest of the line after the padding; it may itself contain spaces.
  size_t b = line.find_first_not_of(' ');
  std::string_view path = b == std::string_view::npos ? std::string_view() : line.substr(b);
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) {
    path.remove_suffix(kDeleted.size());
    m.deleted = true;
  }
  m.path = std::string(path);
  return m;
}

std::vector<MapsEntry> parse_maps(std::string_view text) {
  std::vector<MapsEntry> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (auto m = parse_maps_line(line)) out.push_back(std::move(*m));
  }
  return out;
}

std::optional<std::vector<MapsEntry>> read_maps(const std::string& proc_root, int32_t pid) {
  auto text = read_file(proc_root + "/" + std::to_string(pid) + "/maps", kMaxMapsBytes);
  if (!text) return std::nullopt;
  return parse_maps(*text);
}

}  // namespace ember::common
