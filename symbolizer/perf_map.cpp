#include "symbolizer/perf_map.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "common/files.h"
#include "common/unique_fd.h"

namespace ember::symbolizer {

namespace {

std::optional<uint64_t> parse_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<PerfMap> PerfMap::load(const std::string& path, size_t max_bytes, std::optional<uid_t> owner) {
  common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW));
  if (!fd) {
    if (errno == ELOOP) return make_error(ErrorCode::kInvalidArgument, path + ": is a symbolic link");
    return errno_error(path);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error(path);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, path + ": not a regular file");
  }
  if (owner && st.st_uid != *owner && st.st_uid != 0) {
    return make_error(ErrorCode::kPermissionDenied,
                      path + ": owned by uid " + std::to_string(st.st_uid) +
                          ", neither the process's user nor root");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(ErrorCode::kResourceExhausted,
                      path + ": " + std::to_string(st.st_size) + " bytes, larger than the limit of " +
                          std::to_string(max_bytes) + " bytes");
  }
  auto text = common::read_fd(fd.get(), path, max_bytes);
  if (!text) return std::unexpected(text.error());
  return parse(*text);
}

PerfMap PerfMap::parse(std::string_view text) {
  PerfMap out;
  // Overlaps are resolved as lines arrive: a later line wins where it overlaps earlier ones.
  std::map<uint64_t, Entry> painted;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty()) continue;
    size_t first_space = line.find_first_of(" \t");
    if (first_space == std::string_view::npos) {
      ++out.malformed_lines_;
      continue;
    }
    std::string_view rest = trim(line.substr(first_space));
    size_t second_space = rest.find_first_of(" \t");
    if (second_space == std::string_view::npos) {
      ++out.malformed_lines_;
      continue;
    }
    auto start = parse_hex(line.substr(0, first_space));
    auto size = parse_hex(rest.substr(0, second_space));
    std::string_view name = trim(rest.substr(second_space));
    if (!start || !size || name.empty() || *size == 0 || *start + *size < *start ||
        out.names_.size() + name.size() > UINT32_MAX) {
      ++out.malformed_lines_;
      continue;
    }
    Entry entry{*start, *start + *size, static_cast<uint32_t>(out.names_.size()),
                static_cast<uint32_t>(name.size())};
    out.names_.append(name);

    auto it = painted.upper_bound(entry.start);
    if (it != painted.begin()) {
      auto before = std::prev(it);
      Entry& prev = before->second;
      if (prev.end > entry.start) {
        if (prev.end > entry.end) {
          Entry tail = prev;
          tail.start = entry.end;
          painted.emplace(tail.start, tail);
        }
        if (prev.start == entry.start) {
          painted.erase(before);
        } else {
          prev.end = entry.start;
        }
      }
    }
    it = painted.lower_bound(entry.start);
    while (it != painted.end() && it->second.start < entry.end) {
      if (it->second.end <= entry.end) {
        it = painted.erase(it);
      } else {
        Entry tail = it->second;
        tail.start = entry.end;
        painted.erase(it);
        painted.emplace(tail.start, tail);
        break;
      }
    }
    painted.emplace(entry.start, entry);
  }
  out.entries_.reserve(painted.size());
  for (const auto& [start, entry] : painted) out.entries_.push_back(entry);
  return out;
}

std::optional<std::string_view> PerfMap::find(uint64_t address) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), address,
                             [](uint64_t a, const Entry& e) { return a < e.start; });
  if (it == entries_.begin()) return std::nullopt;
  const Entry& e = *std::prev(it);
  if (address >= e.end) return std::nullopt;
  return std::string_view(names_).substr(e.name_offset, e.name_size);
}

}  // namespace ember::symbolizer
