#pragma once
// Secrets (bearer tokens, basic-auth passwords) come only from files, never from the
// configuration text: the configuration is printed by --check-config and /api/v1/config,
// a file's mode keeps the secret from other users.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ember::daemon {

// Reads a secret: the first line, surrounding whitespace removed. The file must be a regular
// file that other users cannot read (world-readable is refused; group-readable stays allowed
// for a root-owned file shared with the service's group). `what` names the secret in errors
// ("token", "password"); the secret itself never appears in an error.
[[nodiscard]] Result<std::string> read_secret_file(const std::string& path, std::string_view what, size_t min_chars);

// A bearer token: at least 16 characters, printable ASCII without spaces.
[[nodiscard]] Result<std::string> read_token_file(const std::string& path);

}  // namespace ember::daemon
