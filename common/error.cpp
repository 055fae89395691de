#include "common/error.h"

#include <cstring>

namespace ember {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kMalformed: return "malformed input";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kResourceExhausted: return "resource exhausted";
    case ErrorCode::kInterrupted: return "interrupted";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

namespace {
ErrorCode code_for_errno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
    case ENOTDIR: return ErrorCode::kNotFound;
    case EACCES:
    case EPERM: return ErrorCode::kPermissionDenied;
    case EINVAL: return ErrorCode::kInvalidArgument;
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM: return ErrorCode::kResourceExhausted;
    case EOPNOTSUPP:
    case ENOSYS: return ErrorCode::kUnsupported;
    case EINTR: return ErrorCode::kInterrupted;
    default: return ErrorCode::kIo;
  }
}
}  // namespace

Error Error::from_errno(std::string_view context, int err) {
  std::string message(context);
  message += ": ";
  message += std::strerror(err);
  return Error(code_for_errno(err), std::move(message), err);
}

Error Error::with_context(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).with_context(context);
}

Error Error::with_context(std::string_view context) && {
  std::string message(context);
  message += ": ";
  message += message_;
  message_ = std::move(message);
  return std::move(*this);
}

}  // namespace ember
