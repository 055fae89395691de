#include "daemon/secret_file.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "common/files.h"

namespace ember::daemon {

Result<std::string> read_secret_file(const std::string& path, std::string_view what, size_t min_chars) {
  auto fd = common::open_regular_file(path);
  if (!fd) return std::unexpected(fd.error());
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) return errno_error(path);
  if (st.st_mode & S_IROTH) {
    return make_error(ErrorCode::kPermissionDenied,
                      fmt::format("{}: the {} file is readable by every user; chmod o-r it", path, what));
  }
  auto text = common::read_fd(fd->get(), path, 4096);
  if (!text) return std::unexpected(text.error());
  std::string_view s = *text;
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  if (s.size() < min_chars) {
    return make_error(ErrorCode::kInvalidArgument,
                      min_chars <= 1 ? fmt::format("{}: the {} file is empty", path, what)
                                     : fmt::format("{}: the {} is shorter than {} characters (e.g. openssl rand -hex 32 > FILE)",
                                                   path, what, min_chars));
  }
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: the {} may contain only printable ASCII without spaces", path, what));
    }
  }
  return std::string(s);
}

Result<std::string> read_token_file(const std::string& path) { return read_secret_file(path, "token", 16); }

}  // namespace ember::daemon
