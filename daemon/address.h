#pragma once
// The addresses emberd reads: where it listens (http.listen), where it pushes (push.url) and
// what a client names in its Host header. Kept apart from the TOML reading: each is a small
// grammar of its own.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ember::daemon {

// The listen address, parsed.
struct ListenAddress {
  bool unix_socket = false;
  std::string path;  // unix
  std::string host;  // numeric IPv4 or IPv6 address, brackets removed
  uint16_t port = 0;
  bool loopback = false;
};
// "HOST:PORT" (numeric or localhost), "[IPV6]:PORT" or "unix:/absolute/path".
[[nodiscard]] Result<ListenAddress> parse_listen_address(std::string_view text);

// push.url: "http://HOST[:PORT][/PREFIX]" or "https://HOST[:PORT][/PREFIX]".
struct PushUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 80;  // 443 for https
  std::string prefix;  // path before /ingest, without a trailing '/'
};
[[nodiscard]] Result<PushUrl> parse_push_url(std::string_view text);

// The value of a Host header (RFC 9110 7.2 / RFC 3986 3.2.2): "[IPV6]", "[IPV6]:PORT",
// "REG-NAME" or "REG-NAME:PORT" (IPv4 addresses are reg-names by their characters).
struct HostHeader {
  std::string host;  // brackets removed, lower case
  bool ipv6 = false;
  bool has_port = false;
  uint16_t port = 0;
};
[[nodiscard]] Result<HostHeader> parse_host_header(std::string_view text);
// True for the names a loopback listener answers to: localhost, *.localhost, 127.x.y.z, [::1].
bool is_loopback_host(const HostHeader& host);

// "0".."65535", digits only.
std::optional<uint16_t> parse_port(std::string_view text);

}  // namespace ember::daemon
