// The HTTP server's limits, over real sockets: sizes, methods, tokens, timeouts, connections.

#include "daemon/http_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "daemon/query_control.h"
#include "test_support.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;
using test::http_get;
using test::http_raw;

// "/block" holds its worker until the test releases it.
std::atomic<bool> g_blocked{false};
std::atomic<bool> g_release{false};

// "/spin" runs until its query is cancelled or past its deadline (at most 60 s) and keeps why.
std::atomic<bool> g_spinning{false};
std::mutex g_spin_mutex;
std::string g_spin_result;

HttpResponse spin(const HttpRequest& r) {
  g_spinning = true;
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  Result<void> ok;
  while ((ok = r.control->check()) && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(5ms);
  std::lock_guard lock(g_spin_mutex);
  g_spin_result = ok ? "ran to the end" : ok.error().message();
  g_spinning = false;
  return error_response(503, g_spin_result);
}

HttpResponse echo(const HttpRequest& r) {
  if (r.target.starts_with("/spin")) return spin(r);
  HttpResponse out;
  out.body = r.method + " " + r.target;
  if (r.target.starts_with("/block")) {
    g_blocked = true;
    while (!g_release) std::this_thread::sleep_for(5ms);
  }
  return out;
}

std::unique_ptr<HttpServer> start_server(HttpServerOptions o) {
  auto s = HttpServer::start(o, echo, [](std::string_view path) { return path == "/cheap"; });
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? std::move(*s) : nullptr;
}

HttpServerOptions loopback() {
  HttpServerOptions o;
  o.listen = *parse_listen_address("127.0.0.1:0");
  return o;
}

// Reads until the peer closes or `limit` passes; true when it closed.
bool closed_within(int fd, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 50};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

TEST(HttpServer, AnswersAndReportsItsUrl) {
  auto server = start_server(loopback());
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->url().starts_with("http://127.0.0.1:"));
  EXPECT_NE(server->url(), "http://127.0.0.1:0/");
  auto r = http_get(server->url(), "/hello?x=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GET /hello?x=1");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  auto head = http_raw(server->url(), "HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.headers["content-length"], "11");
}

TEST(HttpServer, OversizedHeadersAre431AndBodies413) {
  HttpServerOptions o = loopback();
  o.max_header_bytes = 2048;
  o.max_body_bytes = 16;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  auto big = http_get(server->url(), "/", {{"X-Filler", std::string(4096, 'a')}});
  EXPECT_EQ(big.status, 431);
  auto body = http_raw(server->url(),
                       "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'));
  EXPECT_EQ(body.status, 413);
  auto post = http_raw(server->url(), "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");
  auto junk = http_raw(server->url(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(junk.status, 400);
  // The server is still fine.
  EXPECT_EQ(http_get(server->url(), "/").status, 200);
  EXPECT_GE(server->stats().bad_requests, 4u);
}

TEST(HttpServer, BearerTokenIsRequiredWhenConfigured) {
  HttpServerOptions o = loopback();
  o.token = "s3cret-token-0123456789";
  auto server = start_server(o);
  ASSERT_TRUE(server);
  auto none = http_get(server->url(), "/x");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer realm=\"emberd\"");
  EXPECT_EQ(http_get(server->url(), "/x", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(http_get(server->url(), "/x", {{"Authorization", "Bearer s3cret-token-012345678"}}).status, 401);
  EXPECT_EQ(http_get(server->url(), "/x", {{"Authorization", "Basic czNjcmV0"}}).status, 401);
  EXPECT_EQ(http_get(server->url(), "/x", {{"Authorization", "Bearer s3cret-token-0123456789"}}).status, 200);
  EXPECT_EQ(http_get(server->url(), "/cheap", {{"Authorization", "bearer s3cret-token-0123456789"}}).status, 200);
  server->set_token("");
  EXPECT_EQ(http_get(server->url(), "/x").status, 200);
  EXPECT_EQ(server->stats().unauthorized, 4u);
}

TEST(HttpServer, LoopbackServerRefusesForeignHostNames) {
  auto server = start_server(loopback());
  ASSERT_TRUE(server);
  auto rebinding = http_raw(server->url(), "GET / HTTP/1.1\r\nHost: evil.example:7070\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(rebinding.status, 403);
  for (const char* host : {"localhost:7070", "127.0.0.1", "[::1]:7070", "127.1.2.3:80"}) {
    auto ok = http_raw(server->url(), std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(ok.status, 200) << host;
  }
}

TEST(HttpServer, HostHeadersAreParsedNotPrefixMatched) {
  auto server = start_server(loopback());
  ASSERT_TRUE(server);
  auto get_with = [&](const std::string& headers, const char* version = "1.1") {
    return http_raw(server->url(), fmt::format("GET / HTTP/{}\r\n{}Connection: close\r\n\r\n", version, headers));
  };
  // Finding 7 of issue 16: these passed as loopback names.
  for (const char* host : {"[::1].evil.com", "[::1]evil", "[::1]:7070.evil.com", "localhost:99999", "local host",
                           "[evil.com]", "[::1", "localhost:"}) {
    auto r = get_with(fmt::format("Host: {}\r\n", host));
    EXPECT_EQ(r.status, 400) << host << ": " << r.body;
    EXPECT_NE(r.body.find("Host '"), std::string::npos) << host << ": " << r.body;
  }
  // Names that are valid but not loopback ones.
  for (const char* host : {"127.0.0.1.evil.com", "evil.example", "[::2]:7070", "128.0.0.1"}) {
    EXPECT_EQ(get_with(fmt::format("Host: {}\r\n", host)).status, 403) << host;
  }
  for (const char* host : {"LOCALHOST:7070", "[0:0:0:0:0:0:0:1]", "app.localhost", "127.0.0.1:0"}) {
    EXPECT_EQ(get_with(fmt::format("Host: {}\r\n", host)).status, 200) << host;
  }
  auto twice = get_with("Host: localhost\r\nHost: evil.example\r\n");
  EXPECT_EQ(twice.status, 400);
  EXPECT_EQ(twice.body, "more than one Host header\n");
  EXPECT_EQ(get_with("Host: localhost\r\nHost: localhost\r\n").status, 400);
  auto none = get_with("");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.body, "an HTTP/1.1 request needs a Host header\n");
  EXPECT_EQ(get_with("", "1.0").status, 200);  // HTTP/1.0 had no Host header
}

std::string spin_result() {
  std::lock_guard lock(g_spin_mutex);
  return g_spin_result;
}

// Waits (at most `limit`) for `done`.
template <class Fn>
bool eventually(Fn done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(HttpServer, AClientThatHangsUpCancelsItsQuery) {
  auto server = start_server(loopback());
  ASSERT_TRUE(server);
  g_spin_result.clear();
  int fd = test::connect_to(server->url());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /spin HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  ASSERT_TRUE(eventually([] { return g_spinning.load(); }, 10s));
  EXPECT_EQ(server->stats().busy_workers, 1u);
  ::close(fd);
  ASSERT_TRUE(eventually([] { return !g_spinning.load(); }, 10s)) << "the query ran on for nobody";
  EXPECT_EQ(spin_result(), "query cancelled: the client closed the connection");
  EXPECT_EQ(server->stats().cancelled_queries, 1u);
  // The worker is free again.
  EXPECT_EQ(http_get(server->url(), "/after").status, 200);
  // That client closed its connection after its answer: no cancelled query (it counted as one,
  // since the hang-up watch outlived the query).
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server->stats().cancelled_queries, 1u);
}

TEST(HttpServer, AQueryStopsAtItsDeadline) {
  HttpServerOptions o = loopback();
  o.query_timeout = 200ms;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  auto r = http_get(server->url(), "/spin");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "the query ran longer than http.query_timeout (200ms): narrow the time range, filter by pid, "
                    "comm or label, or raise http.query_timeout\n");
}

TEST(HttpServer, StoppingCancelsTheQueriesInFlight) {
  auto server = start_server(loopback());
  ASSERT_TRUE(server);
  g_spin_result.clear();
  std::thread client([&] { http_get(server->url(), "/spin"); });
  ASSERT_TRUE(eventually([] { return g_spinning.load(); }, 10s));
  const auto before = std::chrono::steady_clock::now();
  server->stop();  // what SIGTERM does, through Daemon::shutdown
  // Without cancellation stop() would wait the 60 s of the spin for its worker.
  EXPECT_LT(std::chrono::steady_clock::now() - before, 30s);
  EXPECT_EQ(spin_result(), "query cancelled: emberd is stopping");
  server.reset();  // closes the connections, as the process's exit does
  client.join();
}

TEST(HttpServer, AWorkerThatIgnoresItsDeadlineIsReportedStuck) {
  HttpServerOptions o = loopback();
  o.query_timeout = 100ms;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  g_blocked = false;
  g_release = false;
  std::thread client([&] { http_get(server->url(), "/block?x=1"); });
  ASSERT_TRUE(eventually([] { return g_blocked.load(); }, 10s));
  // Twice the timeout later, the worker is stuck and says on what.
  ASSERT_TRUE(eventually([&] { return server->stats().stuck_workers == 1; }, 10s));
  HttpServerStats s = server->stats();
  EXPECT_EQ(s.stuck_query.rfind("GET /block?x=1 (", 0), 0u) << s.stuck_query;
  EXPECT_GE(s.longest_query_seconds, 0.2);
  g_release = true;
  client.join();
  EXPECT_EQ(server->stats().stuck_workers, 0u);
  EXPECT_EQ(server->stats().busy_workers, 0u);
}

TEST(HttpServer, ASlowClientIsCutOffWhileOthersAreServed) {
  HttpServerOptions o = loopback();
  o.read_timeout = 1s;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  // Sends half a request line, then nothing.
  int slow = test::connect_to(server->url());
  ASSERT_GE(slow, 0);
  ASSERT_GT(::send(slow, "GET /slowloris HTTP/1.1\r\nHo", 27, MSG_NOSIGNAL), 0);
  // Meanwhile others are answered.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(http_get(server->url(), "/other").status, 200);
  EXPECT_TRUE(closed_within(slow, 10s));
  ::close(slow);
  // A client that connects and sends nothing at all is closed too.
  int silent = test::connect_to(server->url());
  EXPECT_TRUE(closed_within(silent, 10s));
  ::close(silent);
  // The connection is closed before its timeout is counted: give the I/O thread a moment.
  for (int i = 0; i < 100 && server->stats().timeouts < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GE(server->stats().timeouts, 2u);
}

TEST(HttpServer, IdleKeptAliveConnectionsAreClosed) {
  HttpServerOptions o = loopback();
  o.idle_timeout = 500ms;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  int fd = test::connect_to(server->url());
  const std::string req = "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_GT(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), 0);
  // The answer arrives, the connection stays open for the next request, then idles out.
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 5000), 0);
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
  EXPECT_TRUE(closed_within(fd, 10s));
  ::close(fd);
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503) {
  HttpServerOptions o = loopback();
  o.max_connections = 2;
  o.read_timeout = 5s;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  int a = test::connect_to(server->url());
  int b = test::connect_to(server->url());
  // Wait until both are accepted.
  for (int i = 0; i < 100 && server->stats().open_connections < 2; ++i) std::this_thread::sleep_for(20ms);
  auto third = http_get(server->url(), "/");
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.headers["retry-after"], "1");
  ::close(a);
  ::close(b);
  for (int i = 0; i < 100 && server->stats().open_connections > 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(http_get(server->url(), "/").status, 200);
  EXPECT_GE(server->stats().rejected_connections, 1u);
}

TEST(HttpServer, QueriesBeyondTheQueueGet503CheapPathsStillAnswer) {
  HttpServerOptions o = loopback();
  o.workers = 1;
  o.max_queued = 1;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  g_blocked = false;
  g_release = false;
  std::thread busy([&] { EXPECT_EQ(http_get(server->url(), "/block").status, 200); });
  while (!g_blocked) std::this_thread::sleep_for(5ms);
  // The one worker is busy and the queue holds it: the next query is refused at once...
  auto refused = http_get(server->url(), "/query");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.headers["retry-after"], "2");
  // ...while health checks and metrics are answered on the I/O thread.
  EXPECT_EQ(http_get(server->url(), "/cheap").status, 200);
  g_release = true;
  busy.join();
  EXPECT_EQ(http_get(server->url(), "/query").status, 200);
  EXPECT_EQ(server->stats().rejected_queries, 1u);
}

TEST(HttpServer, ServesOnAUnixSocket) {
  test::TempDir dir;
  HttpServerOptions o;
  o.listen = *parse_listen_address("unix:" + (dir / "emberd.sock"));
  auto server = start_server(o);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->url(), "unix:" + (dir / "emberd.sock"));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = dir / "emberd.sock";
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET /over-unix HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) data.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_TRUE(data.starts_with("HTTP/1.1 200")) << data;
  EXPECT_NE(data.find("GET /over-unix"), std::string::npos);
  server->stop();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(HttpServer, TokensCompareInConstantTimeAndFilesAreChecked) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  test::TempDir dir;
  test::write_text(dir / "token", "  0123456789abcdef0123  \nsecond line\n");
  ::chmod((dir / "token").c_str(), 0600);
  auto t = read_token_file(dir / "token");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(*t, "0123456789abcdef0123");
  ::chmod((dir / "token").c_str(), 0644);
  auto world = read_token_file(dir / "token");
  ASSERT_FALSE(world);
  EXPECT_NE(world.error().message().find("readable by every user"), std::string::npos);
  test::write_text(dir / "short", "abc\n");
  ::chmod((dir / "short").c_str(), 0600);
  EXPECT_FALSE(read_token_file(dir / "short"));
  EXPECT_FALSE(read_token_file(dir / "missing"));
}

}  // namespace
}  // namespace ember::daemon
