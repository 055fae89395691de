#include "daemon/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace ember::daemon {

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress a;
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}': {} (write 127.0.0.1:7070, [::1]:7070, localhost:7070 or "
                                  "unix:/run/ember/emberd.sock)",
                                  text, why));
  };
  if (text.starts_with("unix:")) {
    a.unix_socket = true;
    a.path = std::string(text.substr(5));
    if (a.path.empty() || a.path.front() != '/') return bad("the socket path must be absolute");
    if (a.path.size() >= 108) return bad("the socket path is too long");
    a.loopback = true;  // only processes on this host can connect
    return a;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [IPV6]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("the port is missing");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 addresses in brackets");
  }
  auto p = parse_port(port);
  if (!p) return bad("the port must be 0 to 65535");
  a.port = *p;
  if (host == "localhost") host = "127.0.0.1";
  a.host = std::string(host);
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, a.host.c_str(), &v4) == 1) {
    a.loopback = (ntohl(v4.s_addr) >> 24) == 127;
  } else if (::inet_pton(AF_INET6, a.host.c_str(), &v6) == 1) {
    a.loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    return bad("the host must be a numeric IP address or localhost");
  }
  return a;
}

Result<PushUrl> parse_push_url(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}': {} (write http(s)://HOST:PORT, e.g. https://pyroscope:4040)", text, why));
  };
  PushUrl u;
  std::string_view rest;
  if (text.starts_with("https://")) {
    u.tls = true;
    u.port = 443;
    rest = text.substr(8);
  } else if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else {
    return bad("expected http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (path.ends_with("/")) path.remove_suffix(1);
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == '?' || c == '#' || c == '%' || c == 0x7f) {
        return bad("the path may not contain spaces, '?', '#' or '%'");
      }
    }
    u.prefix = std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) return bad("credentials in the URL are not supported (use push.basic_auth_password_file or push.token_file)");
  std::string_view host = authority;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unbalanced '['");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected ':' after ']'");
      auto p = parse_port(after.substr(1));
      if (!p || *p == 0) return bad("invalid port");
      u.port = *p;
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto p = parse_port(authority.substr(colon + 1));
    if (!p || *p == 0) return bad("invalid port");
    u.port = *p;
  }
  if (host.empty() || host.size() > 253) return bad("the host is missing");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_')) {
      return bad("the host contains characters a host name cannot have");
    }
  }
  u.host = std::string(host);
  return u;
}

Result<HostHeader> parse_host_header(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("Host '{}': {}", text.substr(0, 100), why));
  };
  if (text.empty()) return bad("empty");
  HostHeader h;
  std::string_view host;
  std::string_view rest;  // what follows the host: empty or ":PORT"
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("'[' without ']'");
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    // Only an IPv6 address goes between brackets (no zone IDs, no IPvFuture).
    in6_addr v6{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) return bad("not an IPv6 address in brackets");
    h.ipv6 = true;
  } else {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    if (host.empty() || host.size() > 253) return bad("the host name is empty or too long");
    for (char c : host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
        return bad("a host name has only letters, digits, '-', '.' and '_'");
      }
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return bad("only ':PORT' may follow the host");
    auto port = parse_port(rest.substr(1));
    if (!port) return bad("the port must be 0 to 65535");
    h.has_port = true;
    h.port = *port;
  }
  h.host = std::string(host);
  std::transform(h.host.begin(), h.host.end(), h.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return h;
}

bool is_loopback_host(const HostHeader& h) {
  if (h.ipv6) {
    in6_addr v6{};
    return ::inet_pton(AF_INET6, h.host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
  }
  if (h.host == "localhost" || h.host.ends_with(".localhost")) return true;
  in_addr v4{};
  return ::inet_pton(AF_INET, h.host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

}  // namespace ember::daemon
