#pragma once
// File access that hostile paths cannot hang or trick: targets' files may be FIFOs, devices,
// huge, or replaced while we read them.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace ember::common {

// Opens a regular file read-only. A FIFO, device or directory is refused without blocking:
// the open itself is O_NONBLOCK, and the type is checked on the open fd (no stat/open race).
[[nodiscard]] Result<UniqueFd> open_regular_file(const std::string& path);

// Reads a whole regular file, refusing one larger than max_bytes (error names the file).
[[nodiscard]] Result<std::string> read_file(const std::string& path, size_t max_bytes);
// Reads what an fd has left, up to max_bytes (stdin, pipes).
[[nodiscard]] Result<std::string> read_fd(int fd, std::string_view name_for_errors, size_t max_bytes);

// Writes a file so that readers see the old contents or the new, never a torn file:
// temporary file in the same directory, fsync, rename, fsync of the directory.
[[nodiscard]] Result<void> write_file_atomic(const std::string& path, std::string_view contents);

// Checks, before any work starts, that `path` can be created or replaced by write_file_atomic.
// "-" (stdout) is always writable.
[[nodiscard]] Result<void> check_output_writable(const std::string& path);

// Writes `contents` to `path`, or to stdout when path is "-". A regular file is replaced
// atomically (write_file_atomic); an existing device or FIFO is written into, never replaced;
// a symlink is followed, and the file it leads to is written, so the link stays. Errors name
// `path` ("/dev/full: No space left on device").
[[nodiscard]] Result<void> write_output(const std::string& path, std::string_view contents);

// The file that writing `path` lands on: `path` itself, or where its symlinks lead (a dangling
// link leads to the file it names, which will be created).
[[nodiscard]] Result<std::string> resolve_output(const std::string& path);

// Writes all of `data` to fd, retrying on EINTR and short writes.
[[nodiscard]] Result<void> write_all(int fd, std::string_view data, std::string_view name_for_errors);

}  // namespace ember::common
