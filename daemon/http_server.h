#pragma once
// emberd's HTTP server (Boost.Beast on Asio, all of it inside http_server.cpp): one I/O thread
// for every connection, and a small pool of workers for answers that take CPU (flamegraphs,
// merged profiles), so that a slow query or a slow client never holds up the others.
//
// Limits: request header size (431), body size (413), open connections (503 and close), the
// time to receive a request, to send an answer and to wait between requests; the queue of
// work for the workers (503); one Host header naming this server (400, 403). A query handed to
// a worker carries a QueryControl: its deadline, cancelled when the client hangs up. Optionally
// a bearer token, compared in constant time (401).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "daemon/secret_file.h"
#include "daemon/config.h"
#include "daemon/http_types.h"

namespace ember::daemon {

struct HttpServerOptions {
  ListenAddress listen;
  uint64_t max_connections = 64;
  uint64_t max_header_bytes = 8192;
  uint64_t max_body_bytes = 4096;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{60'000};
  uint64_t workers = 1;
  uint64_t max_queued = 16;
  // How long a worker may spend on one request before its query gives up (http.query_timeout).
  std::chrono::milliseconds query_timeout{10'000};
  std::string token;  // empty: no authentication
};

struct HttpServerStats {
  uint64_t connections = 0;           // accepted
  uint64_t open_connections = 0;
  uint64_t rejected_connections = 0;  // past max_connections
  uint64_t timeouts = 0;              // connections closed by a read, write or idle timeout
  uint64_t unauthorized = 0;
  uint64_t rejected_queries = 0;      // the worker queue was full
  uint64_t bad_requests = 0;          // unparsable, too large, bad method, bad Host
  uint64_t cancelled_queries = 0;     // the client hung up while its query was queued or running
  uint64_t busy_workers = 0;          // running a query now
  // Workers still running a query past twice its timeout: it does not answer its deadline.
  uint64_t stuck_workers = 0;
  std::string stuck_query;            // the longest-running of them: "GET /api/v1/... (73.2 s)"
  double longest_query_seconds = 0;   // of the queries running now
  // Answers by status class.
  uint64_t responses_2xx = 0, responses_3xx = 0, responses_4xx = 0, responses_5xx = 0;
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Handlers run on a worker thread unless `cheap` says the path may run on the I/O thread.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options, Handler handler,
                                                   std::function<bool(std::string_view path)> cheap);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://127.0.0.1:7070/" (the port actually bound), or "unix:/run/ember/emberd.sock".
  std::string url() const;
  // A new token (SIGHUP re-reads the token file); empty turns authentication off.
  void set_token(std::string token);
  // Cancels every query queued or running, and every one that arrives from now on (emberd is
  // stopping): each ends at its next check instead of running to its deadline.
  void cancel_queries(std::string reason);
  // Stops accepting, closes connections, joins the threads. Idempotent.
  void stop();
  HttpServerStats stats() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Compares two secrets in time that depends only on their lengths, not on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);


}  // namespace ember::daemon
