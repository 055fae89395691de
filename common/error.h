#pragma once
// The error type every module returns across its boundary: std::expected<T, ember::Error>.
// Per-sample trouble is a counter, not an Error (see docs/architecture.md).

#include <cerrno>
#include <expected>
#include <string>
#include <string_view>

namespace ember {

enum class ErrorCode {
  kInvalidArgument,   // the user asked for something that cannot be done as asked
  kNotFound,          // a file, process or symbol that does not exist
  kPermissionDenied,  // EACCES/EPERM, perf_event_paranoid, capabilities
  kIo,                // a read or write failed
  kMalformed,         // an input file is truncated, oversized or not what it claims to be
  kUnsupported,       // the kernel or the file uses something ember does not handle
  kResourceExhausted, // a configured limit or the disk is full
  kInterrupted,       // stopped by a signal before it could finish
  kInternal,
};

std::string_view to_string(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), sys_errno_(sys_errno), message_(std::move(message)) {}

  // "context: strerror(err)", with the code derived from the errno value.
  static Error from_errno(std::string_view context, int err = errno);

  ErrorCode code() const { return code_; }
  int sys_errno() const { return sys_errno_; }
  // One line, suitable for printing after "ember: ".
  const std::string& message() const { return message_; }

  // Prefixes "context: " to the message, e.g. the file name a parser was reading.
  Error with_context(std::string_view context) const&;
  Error with_context(std::string_view context) &&;

 private:
  ErrorCode code_;
  int sys_errno_;
  std::string message_;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected<Error>(std::in_place, code, std::move(message));
}

inline std::unexpected<Error> errno_error(std::string_view context, int err = errno) {
  return std::unexpected<Error>(Error::from_errno(context, err));
}

}  // namespace ember
