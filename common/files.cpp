#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace ember::common {

Result<UniqueFd> open_regular_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return errno_error(path);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error(path);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, path + ": not a regular file");
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

namespace {

// read_fd, with the size the file had when it was opened (0: unknown).
Result<std::string> read_sized(int fd, std::string_view name_for_errors, size_t max_bytes, size_t size_hint) {
  std::string out;
  // A file of known size is read straight into a buffer of that size: growing a string by
  // doubling copies it and touches twice the memory, which for a 34 MB profile cost more than
  // parsing it.
  if (size_hint > 0 && size_hint <= max_bytes) {
    int read_errno = 0;
    out.resize_and_overwrite(size_hint, [&](char* p, size_t n) {
      size_t got = 0;
      while (got < n) {
        ssize_t r = ::read(fd, p + got, n - got);
        if (r < 0) {
          if (errno == EINTR) continue;
          read_errno = errno;
          break;
        }
        if (r == 0) break;
        got += static_cast<size_t>(r);
      }
      return got;
    });
    if (read_errno != 0) {
      errno = read_errno;
      return errno_error(name_for_errors);
    }
    if (out.size() < size_hint) return out;  // it shrank since: what is there is the file
  }
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(name_for_errors);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return make_error(ErrorCode::kResourceExhausted,
                        std::string(name_for_errors) + ": larger than the limit of " +
                            std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

Result<std::string> read_fd(int fd, std::string_view name_for_errors, size_t max_bytes) {
  return read_sized(fd, name_for_errors, max_bytes, 0);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  auto fd = open_regular_file(path);
  if (!fd) return std::unexpected(fd.error());
  struct stat st{};
  size_t size = 0;
  if (::fstat(fd->get(), &st) == 0) {
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      return make_error(ErrorCode::kResourceExhausted,
                        path + ": " + std::to_string(st.st_size) + " bytes, larger than the limit of " +
                            std::to_string(max_bytes) + " bytes");
    }
    size = static_cast<size_t>(st.st_size);
  }
  return read_sized(fd->get(), path, max_bytes, size);
}

Result<void> write_all(int fd, std::string_view data, std::string_view name_for_errors) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(name_for_errors);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

namespace {
std::string parent_directory(const std::string& path) {
  std::filesystem::path p(path);
  auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}
}  // namespace

Result<void> write_file_atomic(const std::string& path, std::string_view contents) {
  std::string dir = parent_directory(path);
  std::string tmpl = (std::filesystem::path(dir) /
                      ("." + std::filesystem::path(path).filename().string() + ".tmp-XXXXXX"))
                         .string();
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd) return errno_error(path);
  auto fail = [&](Error e) -> Result<void> {
    ::unlink(tmpl.c_str());
    return std::unexpected(std::move(e));
  };
  if (auto w = write_all(fd.get(), contents, path); !w) return fail(w.error());
  if (::fchmod(fd.get(), 0644) != 0) return fail(Error::from_errno(path));
  if (::fsync(fd.get()) != 0) return fail(Error::from_errno(path + ": fsync"));
  fd.reset();
  if (::rename(tmpl.c_str(), path.c_str()) != 0) return fail(Error::from_errno(path));
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return {};
}

Result<std::string> resolve_output(const std::string& path) {
  // Linux's own bound on symlinks followed in one lookup.
  constexpr int kMaxLinks = 40;
  std::string current = path;
  for (int i = 0; i < kMaxLinks; ++i) {
    struct stat st{};
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current;
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : PATH_MAX), '\0');
    ssize_t n = ::readlink(current.c_str(), target.data(), target.size());
    if (n < 0) return errno_error(path);
    target.resize(static_cast<size_t>(n));
    // A relative target is relative to the link's directory.
    if (!target.starts_with('/')) target = (std::filesystem::path(parent_directory(current)) / target).string();
    current = std::move(target);
  }
  return errno_error(path, ELOOP);
}

Result<void> check_output_writable(const std::string& path) {
  if (path == "-") return {};
  auto resolved = resolve_output(path);
  if (!resolved) return std::unexpected(resolved.error());
  struct stat st{};
  if (::stat(resolved->c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return make_error(ErrorCode::kInvalidArgument, path + ": is a directory");
    }
    // Devices and FIFOs are written in place (see write_output): they must be writable.
    if (!S_ISREG(st.st_mode)) {
      if (::access(resolved->c_str(), W_OK) != 0) return errno_error(path);
      return {};
    }
  }
  // The file is replaced by rename, so what matters is that its directory takes a new file.
  std::string dir = parent_directory(*resolved);
  struct stat dst{};
  if (::stat(dir.c_str(), &dst) != 0) return errno_error(path + ": directory " + dir);
  if (!S_ISDIR(dst.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, path + ": " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), W_OK) != 0) return errno_error(path + ": directory " + dir);
  return {};
}

Result<void> write_output(const std::string& path, std::string_view contents) {
  if (path == "-") return write_all(STDOUT_FILENO, contents, "stdout");
  auto resolved = resolve_output(path);
  if (!resolved) return std::unexpected(resolved.error());
  struct stat st{};
  if (::stat(resolved->c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, path + ": is a directory");
    // A device or FIFO is written into, as a shell redirection would: replacing /dev/null by a
    // regular file, or a pipe a reader waits on, is never what was asked.
    UniqueFd fd(::open(resolved->c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return errno_error(path);
    if (auto ok = write_all(fd.get(), contents, path); !ok) return ok;
    if (::close(fd.release()) != 0) return errno_error(path);
    return {};
  }
  // A regular file (or a new one) is replaced atomically; through a symlink, the file it points
  // to is, so the link stays.
  return write_file_atomic(*resolved, contents);
}

}  // namespace ember::common
