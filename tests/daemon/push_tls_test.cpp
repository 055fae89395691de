// The push client over TLS against a loopback OpenSSL server whose certificates are made at
// test time by the openssl command (a test CA, a server certificate for localhost and
// 127.0.0.1, a second CA the client does not trust, a certificate for another name).

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/stat.h>

#include <functional>
#include <memory>
#include <thread>

#include "daemon/config.h"
#include "daemon/push_client.h"
#include "daemon/push_tls.h"
#include "tests/support/process.h"
#include "profiles.h"
#include "proto/pprof.h"
#include "push_support.h"
#include "receiver.h"
#include "test_support.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;
using test::push_snapshot;
using test::Receiver;
using test::wait_for;

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = ember::testing::run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// A CA and certificates it signs, in a temporary directory.
class Pki {
 public:
  Pki() {
    make_ca("ca");
    make_ca("other-ca");
    make_cert("server", "ca", "DNS:localhost,IP:127.0.0.1");
    make_cert("elsewhere", "ca", "DNS:elsewhere.example");
    make_cert("client", "ca", "DNS:emberd-client");
  }
  std::string file(std::string_view name) const { return dir_ / std::string(name); }

 private:
  void make_ca(const std::string& name) {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=ember test " + name, "-keyout", file(name + ".key"), "-out", file(name + ".pem")});
  }
  void make_cert(const std::string& name, const std::string& ca, const std::string& san) {
    test::write_text(file(name + ".ext"), "subjectAltName=" + san + "\n");
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name,
             "-keyout", file(name + ".key"), "-out", file(name + ".csr")});
    openssl({"x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".pem"), "-CAkey", file(ca + ".key"),
             "-CAcreateserial", "-days", "1", "-extfile", file(name + ".ext"), "-out", file(name + ".pem")});
    ::chmod(file(name + ".key").c_str(), 0600);
  }
  test::TempDir dir_;
};

// An OpenSSL server context presenting `cert`; with `client_ca`, it demands a client
// certificate signed by it (mutual TLS).
std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> server_context(const Pki& pki, const std::string& cert,
                                                                  const std::string& client_ca = {}) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), pki.file(cert + ".pem").c_str()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), pki.file(cert + ".key").c_str(), SSL_FILETYPE_PEM), 1);
  if (!client_ca.empty()) {
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx.get(), pki.file(client_ca + ".pem").c_str(), nullptr), 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

PushConfig tls_config(const std::string& host, uint16_t port, const Pki& pki) {
  PushConfig c;
  c.url = "https://" + host + ":" + std::to_string(port) + "/pyro";
  c.labels = {{"env", "prod"}};
  c.ca_file = pki.file("ca.pem");
  c.timeout = 2s;
  c.initial_backoff = 10ms;
  c.max_backoff = 50ms;
  c.max_attempts = 1000;
  return c;
}

class PushTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  Pki pki_;
  test::TempDir dir_;
};

TEST_F(PushTls, DeliversOverHttpsWithBasicAuthAndATenant) {
  auto ctx = server_context(pki_, "server");
  Receiver receiver({200}, ctx.get());
  test::write_text(dir_ / "password", "glc_secret-token-value\n");
  ::chmod((dir_ / "password").c_str(), 0640);
  PushConfig config = tls_config("localhost", receiver.port(), pki_);
  config.basic_auth_user = "123456";
  config.basic_auth_password_file = dir_ / "password";
  config.tenant_id = "team-a";
  auto client = PushClient::start(config, "web-1");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 1'700'000'000'000'000'000, 1'700'000'060'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; })) << (*client)->stats().last_error;
  auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target,
            "/pyro/ingest?name=emberd%7Bhost%3Dweb-1%2Cenv%3Dprod%7D&from=1700000000&until=1700000060"
            "&format=pprof&spyName=ember&sampleRate=99");
  // base64("123456:glc_secret-token-value")
  EXPECT_EQ(got[0].headers.at("authorization"), "Basic MTIzNDU2OmdsY19zZWNyZXQtdG9rZW4tdmFsdWU=");
  EXPECT_EQ(got[0].headers.at("x-scope-orgid"), "team-a");
  EXPECT_EQ(got[0].headers.at("host"), "localhost:" + std::to_string(receiver.port()));
  auto profile = proto::decode(got[0].profile, "received");
  ASSERT_TRUE(profile) << profile.error().message();
  EXPECT_EQ(profile->total(0), 12);
  EXPECT_EQ((*client)->stats().tls_failures, 0u);
}

TEST_F(PushTls, VerifiesAnIpAddressAgainstTheCertificatesAddresses) {
  auto ctx = server_context(pki_, "server");
  Receiver receiver({200}, ctx.get());
  auto client = PushClient::start(tls_config("127.0.0.1", receiver.port(), pki_), "h");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; })) << (*client)->stats().last_error;
}

TEST_F(PushTls, RefusesAServerSignedByAnotherCaAndKeepsTheSnapshotQueued) {
  auto ctx = server_context(pki_, "server");
  Receiver receiver({200}, ctx.get());
  PushConfig config = tls_config("localhost", receiver.port(), pki_);
  config.ca_file = pki_.file("other-ca.pem");
  auto client = PushClient::start(config, "h");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().tls_failures >= 2; }));
  auto s = (*client)->stats();
  EXPECT_EQ(s.last_error, "certificate refused: unable to get local issuer certificate");
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(receiver.requests(), 0);  // nothing was sent in the clear either
  EXPECT_GE(receiver.handshake_failures(), 1);
}

TEST_F(PushTls, RefusesACertificateForAnotherHostName) {
  auto ctx = server_context(pki_, "elsewhere");
  Receiver receiver({200}, ctx.get());
  auto client = PushClient::start(tls_config("localhost", receiver.port(), pki_), "h");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().tls_failures >= 1; }));
  EXPECT_EQ((*client)->stats().last_error, "certificate refused: hostname mismatch");
  EXPECT_EQ(receiver.requests(), 0);
}

TEST_F(PushTls, DoesNotFallBackToPlainHttp) {
  Receiver plain({200});  // speaks HTTP only
  auto client = PushClient::start(tls_config("localhost", plain.port(), pki_), "h");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().tls_failures >= 1; }));
  EXPECT_TRUE((*client)->stats().last_error.starts_with("TLS handshake failed: ")) << (*client)->stats().last_error;
  EXPECT_EQ((*client)->stats().sent, 0u);
}

TEST_F(PushTls, SendsAClientCertificateForMutualTls) {
  auto ctx = server_context(pki_, "server", "ca");
  Receiver receiver({200}, ctx.get());
  PushConfig config = tls_config("localhost", receiver.port(), pki_);
  {
    auto client = PushClient::start(config, "h");  // no client certificate: the server refuses
    ASSERT_TRUE(client);
    (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
    ASSERT_TRUE(wait_for([&] { return receiver.handshake_failures() >= 1; }));
    EXPECT_EQ((*client)->stats().sent, 0u);
  }
  config.cert_file = pki_.file("client.pem");
  config.key_file = pki_.file("client.key");
  auto client = PushClient::start(config, "h");
  ASSERT_TRUE(client) << client.error().message();
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; })) << (*client)->stats().last_error;
}

TEST_F(PushTls, DeliversAfterTheServerComesUp) {
  uint16_t port;
  {
    Receiver gone({200});
    port = gone.port();
  }
  PushConfig config = tls_config("localhost", port, pki_);
  config.initial_backoff = 100ms;
  config.max_backoff = 100ms;
  auto client = PushClient::start(config, "h");
  ASSERT_TRUE(client);
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().failures >= 2; }));
  EXPECT_EQ((*client)->stats().queued, 1u);
  auto ctx = server_context(pki_, "server");
  Receiver receiver({200}, ctx.get(), port);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; })) << (*client)->stats().last_error;
  auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(proto::decode(got[0].profile, "late").has_value());
  EXPECT_EQ((*client)->stats().queued, 0u);
}

TEST_F(PushTls, StartRefusesUnusableFilesNamingThem) {
  PushConfig config = tls_config("localhost", 4040, pki_);
  config.ca_file = dir_ / "missing.pem";
  auto missing = PushClient::start(config, "h");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("push.ca_file"), std::string::npos) << missing.error().message();
  EXPECT_NE(missing.error().message().find("missing.pem"), std::string::npos);

  test::write_text(dir_ / "not.pem", "not a certificate\n");
  config.ca_file = dir_ / "not.pem";
  auto garbage = PushClient::start(config, "h");
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(garbage.error().message().starts_with("push.ca_file: " + (dir_ / "not.pem") + ": no usable PEM certificate"))
      << garbage.error().message();

  config.ca_file = pki_.file("ca.pem");
  config.cert_file = pki_.file("client.pem");
  config.key_file = pki_.file("client.key");
  ::chmod(config.key_file.c_str(), 0644);
  auto open_key = PushClient::start(config, "h");
  ASSERT_FALSE(open_key);
  EXPECT_NE(open_key.error().message().find("readable by every user"), std::string::npos);
}

TEST_F(PushTls, SecretsComeFromPrivateFilesAndStayOutOfErrors) {
  test::write_text(dir_ / "password", "hunter2-secret\n");
  ::chmod((dir_ / "password").c_str(), 0644);
  PushConfig config = tls_config("localhost", 4040, pki_);
  config.basic_auth_user = "u";
  config.basic_auth_password_file = dir_ / "password";
  auto a = push_authorization(config);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "push.basic_auth_password_file: " + (dir_ / "password") + ": the password file is readable by every user; chmod o-r it");
  ::chmod((dir_ / "password").c_str(), 0600);
  a = push_authorization(config);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, basic_authorization("u", "hunter2-secret"));
  EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617
  // The configuration printed back names the file, never its content.
  Config c;
  c.storage.directory = "/tmp";
  c.push = config;
  const std::string printed = format_config(c);
  EXPECT_NE(printed.find("basic_auth_password_file = \"" + (dir_ / "password") + "\""), std::string::npos) << printed;
  EXPECT_EQ(printed.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace ember::daemon
