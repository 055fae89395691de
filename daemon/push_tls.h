#pragma once
// TLS and authentication for the push client: the OpenSSL client context built from push.*
// (peer verified against the system's CA store or push.ca_file, TLS 1.2 minimum, optional
// client certificate), the per-connection host name (SNI and certificate name check), a
// refused handshake in words, and the Authorization header from the secret files.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "daemon/config.h"

namespace boost::asio::ssl {
class context;
}
struct ssl_st;

namespace ember::daemon {

[[nodiscard]] Result<std::shared_ptr<boost::asio::ssl::context>> make_push_tls_context(const PushConfig& config);

// Sets SNI (names only, not IP literals) and the name or address the server's certificate
// must carry; OpenSSL checks it during the handshake.
[[nodiscard]] Result<void> set_tls_peer_name(ssl_st* ssl, const std::string& host);

// "certificate refused: hostname mismatch", or the handshake's own error when the
// certificate was not the problem.
std::string describe_tls_failure(ssl_st* ssl, std::string_view handshake_error);

// The Authorization header value from push.token_file or push.basic_auth_*: "" for none.
// Errors name the file and never contain the secret.
[[nodiscard]] Result<std::string> push_authorization(const PushConfig& config);

// "Basic " + base64("user:password") (RFC 7617).
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace ember::daemon
