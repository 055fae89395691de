// With push_client.cpp, the only translation unit that sees Asio's SSL layer.

#include "daemon/push_tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/files.h"
#include "daemon/secret_file.h"

namespace ember::daemon {

namespace ssl = boost::asio::ssl;

namespace {

// A readable regular file, checked first so the error names it plainly (OpenSSL's own
// messages do not carry the path).
Result<void> check_readable(const std::string& key, const std::string& path, bool secret) {
  auto fd = common::open_regular_file(path);
  if (!fd) return std::unexpected(fd.error().with_context("push." + key));
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) return errno_error(path);
  if (secret && (st.st_mode & S_IROTH)) {
    return make_error(ErrorCode::kPermissionDenied,
                      fmt::format("push.{}: {}: the private key is readable by every user; chmod o-r it", key, path));
  }
  return {};
}

std::string openssl_error(const boost::system::error_code& ec) {
  std::string text = ec.message();
  ERR_clear_error();
  return text;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_push_tls_context(const PushConfig& config) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  // TLS 1.2 minimum: 1.0 and 1.1 are deprecated (RFC 8996).
  if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
    return make_error(ErrorCode::kInternal, "push: cannot set the TLS 1.2 minimum");
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (config.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, "push: cannot load the system's CA store: " + openssl_error(ec));
  } else {
    if (auto ok = check_readable("ca_file", config.ca_file, false); !ok) return std::unexpected(ok.error());
    ctx->load_verify_file(config.ca_file, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("push.ca_file: {}: no usable PEM certificate ({})", config.ca_file, openssl_error(ec)));
    }
  }
  if (!config.cert_file.empty()) {
    if (auto ok = check_readable("cert_file", config.cert_file, false); !ok) return std::unexpected(ok.error());
    if (auto ok = check_readable("key_file", config.key_file, true); !ok) return std::unexpected(ok.error());
    ctx->use_certificate_chain_file(config.cert_file, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("push.cert_file: {}: not a PEM certificate chain ({})", config.cert_file, openssl_error(ec)));
    }
    ctx->use_private_key_file(config.key_file, ssl::context::pem, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("push.key_file: {}: not the certificate's PEM private key ({})", config.key_file,
                                    openssl_error(ec)));
    }
  }
  return ctx;
}

Result<void> set_tls_peer_name(ssl_st* ssl, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (!ec) {
    // An address: the certificate must carry it as an IP subjectAltName; no SNI (RFC 6066 3).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) {
      return make_error(ErrorCode::kInvalidArgument, "push: cannot verify the address " + host);
    }
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
    ERR_clear_error();
    return make_error(ErrorCode::kInvalidArgument, "push: cannot verify the host name " + host);
  }
  return {};
}

std::string describe_tls_failure(ssl_st* ssl, std::string_view handshake_error) {
  const long verify = SSL_get_verify_result(ssl);
  ERR_clear_error();
  if (verify != X509_V_OK) return fmt::format("certificate refused: {}", X509_verify_cert_error_string(verify));
  return fmt::format("TLS handshake failed: {}", handshake_error);
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  const std::string plain = fmt::format("{}:{}", user, password);
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  encoded.resize(static_cast<size_t>(n));
  return "Basic " + encoded;
}

Result<std::string> push_authorization(const PushConfig& config) {
  if (!config.token_file.empty()) {
    auto t = read_token_file(config.token_file);
    if (!t) return std::unexpected(t.error().with_context("push.token_file"));
    return "Bearer " + *t;
  }
  if (!config.basic_auth_password_file.empty()) {
    auto p = read_secret_file(config.basic_auth_password_file, "password", 1);
    if (!p) return std::unexpected(p.error().with_context("push.basic_auth_password_file"));
    return basic_authorization(config.basic_auth_user, *p);
  }
  return std::string();
}

}  // namespace ember::daemon
