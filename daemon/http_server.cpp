// The only translation unit of the server that sees Boost.Asio and Boost.Beast (with
// push_client.cpp for the client side): both are heavy to compile.

#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "common/files.h"
#include "daemon/address.h"
#include "daemon/query_control.h"
#include "daemon/logfmt.h"

namespace ember::daemon {

namespace {
constexpr size_t kTrimAfterBytes = size_t{16} << 20;
}  // namespace

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Protocol = asio::generic::stream_protocol;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<Protocol, Executor>;
using Stream = beast::basic_stream<Protocol, Executor, beast::unlimited_rate_policy>;

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer one is looked at whatever the contents, and the lengths are
  // folded into the result instead of returning early.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  // Keeps the compiler from turning the loop into an early-exit comparison.
  volatile unsigned char result = diff;
  return result == 0;
}

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, Handler handler, std::function<bool(std::string_view)> cheap)
      : options_(options),
        handler_(std::move(handler)),
        cheap_(std::move(cheap)),
        token_(options.token),
        ioc_(1),
        acceptor_(ioc_),
        workers_(static_cast<size_t>(std::max<uint64_t>(1, options.workers))) {}

  ~Impl() { stop(); }

  Result<void> listen();
  void run() {
    accept();
    io_thread_ = std::thread([this] {
      // run() returns when stopped; a handler that threw past its own catch ends up here.
      for (;;) {
        try {
          ioc_.run();
          break;
        } catch (const std::exception& e) {
          spdlog::error("msg=\"http: unexpected error\" error={}", lf(e.what()));
        }
      }
    });
  }
  void stop() {
    cancel_queries("emberd is stopping");
    std::call_once(stopped_, [this] {
      asio::post(ioc_, [this] {
        beast::error_code ec;
        acceptor_.close(ec);
      });
      ioc_.stop();
      if (io_thread_.joinable()) io_thread_.join();
      workers_.stop();
      workers_.join();
      if (options_.listen.unix_socket) ::unlink(options_.listen.path.c_str());
    });
  }

  std::string url() const { return url_; }
  void set_token(std::string token) {
    std::lock_guard lock(token_mutex_);
    token_ = std::move(token);
  }
  std::string token() const {
    std::lock_guard lock(token_mutex_);
    return token_;
  }

  HttpServerStats stats() const {
    HttpServerStats s;
    s.connections = connections_;
    s.open_connections = open_;
    s.rejected_connections = rejected_connections_;
    s.timeouts = timeouts_;
    s.unauthorized = unauthorized_;
    s.rejected_queries = rejected_queries_;
    s.bad_requests = bad_requests_;
    s.cancelled_queries = cancelled_queries_;
    {
      std::lock_guard lock(inflight_mutex_);
      const auto now = QueryControl::Clock::now();
      Duration longest_stuck{-1};
      for (const InFlight& q : inflight_) {
        if (!q.control->started()) continue;
        s.busy_workers++;
        const Duration ran = q.control->running_for(now);
        s.longest_query_seconds = std::max(s.longest_query_seconds, static_cast<double>(ran.count()) / 1e3);
        // Past its deadline by a whole timeout more: it is not checking its deadline.
        if (q.control->overdue(q.control->timeout(), now)) {
          s.stuck_workers++;
          if (ran > longest_stuck) {
            longest_stuck = ran;
            s.stuck_query = fmt::format("{} ({:.1f} s)", q.target.substr(0, 200), static_cast<double>(ran.count()) / 1e3);
          }
        }
      }
    }
    s.responses_2xx = responses_[2];
    s.responses_3xx = responses_[3];
    s.responses_4xx = responses_[4];
    s.responses_5xx = responses_[5];
    return s;
  }

  class Session;

  // A request handed to the workers, from the post until its answer is ready.
  struct InFlight {
    std::shared_ptr<QueryControl> control;
    std::string target;
  };
  std::list<InFlight>::iterator add_inflight(std::shared_ptr<QueryControl> control, std::string target) {
    std::lock_guard lock(inflight_mutex_);
    if (!stopping_reason_.empty()) control->cancel(stopping_reason_);
    return inflight_.insert(inflight_.end(), InFlight{std::move(control), std::move(target)});
  }
  void remove_inflight(std::list<InFlight>::iterator it) {
    std::lock_guard lock(inflight_mutex_);
    inflight_.erase(it);
  }
  void cancel_queries(std::string reason) {
    std::lock_guard lock(inflight_mutex_);
    stopping_reason_ = reason;
    for (InFlight& q : inflight_) q.control->cancel(reason);
  }

  // Counters first: sessions destroyed with ioc_ still update them.
  std::atomic<uint64_t> connections_{0}, open_{0}, rejected_connections_{0}, timeouts_{0}, unauthorized_{0},
      rejected_queries_{0}, bad_requests_{0}, queued_{0}, cancelled_queries_{0};
  std::array<std::atomic<uint64_t>, 6> responses_{};

  HttpServerOptions options_;
  Handler handler_;
  std::function<bool(std::string_view)> cheap_;
  mutable std::mutex token_mutex_;
  std::string token_;
  std::string url_;
  std::once_flag stopped_;
  mutable std::mutex inflight_mutex_;
  std::list<InFlight> inflight_;
  std::string stopping_reason_;  // set by cancel_queries: every later query starts cancelled

  asio::io_context ioc_;
  asio::basic_socket_acceptor<Protocol, Executor> acceptor_;
  asio::thread_pool workers_;
  std::thread io_thread_;

 private:
  void accept();
};

namespace {

// RFC 9112 3.2: exactly one Host header on HTTP/1.1, with a valid value. On a loopback
// listener the name must be a loopback one too: a page elsewhere that has its DNS name point
// at 127.0.0.1 (DNS rebinding) still sends its own name.
std::optional<HttpResponse> check_host(const http::request<http::string_body>& req, const ListenAddress& listen) {
  auto [first, last] = req.equal_range(http::field::host);
  const auto count = std::distance(first, last);
  if (count > 1) return error_response(400, "more than one Host header");
  if (count == 0) {
    if (req.version() >= 11) return error_response(400, "an HTTP/1.1 request needs a Host header");
    return std::nullopt;
  }
  auto host = parse_host_header(first->value());
  if (!host) return error_response(400, host.error().message());
  if (!listen.unix_socket && listen.loopback && !is_loopback_host(*host)) {
    return error_response(403, "Host '" + std::string(first->value().substr(0, 100)) +
                                   "' is not allowed: emberd on a loopback address answers only "
                                   "to localhost names (protection against DNS rebinding)");
  }
  return std::nullopt;
}

}  // namespace

class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, Socket socket)
      : server_(server),
        stream_(std::move(socket)),
        // Room for the largest request the limits allow, so that the parser's limits (431,
        // 413) are what stops a large request, not the buffer.
        buffer_(static_cast<size_t>(server.options_.max_header_bytes + server.options_.max_body_bytes + 4096)) {
    server_.open_++;
  }
  ~Session() { server_.open_--; }

  void start() {
    deadline_ = std::chrono::steady_clock::now() + server_.options_.read_timeout;
    wait_for_request();
  }

  // Past max_connections: a short 503 and close, without reading the request.
  void reject() {
    server_.rejected_connections_++;
    HttpResponse r = error_response(503, "too many open connections; try again later");
    r.headers.emplace_back("Retry-After", "1");
    keep_alive_ = false;
    write(std::move(r), std::chrono::seconds(2));
  }

 private:
  template <class Fn>
  auto guarded(Fn fn) {
    // Every completion handler catches at its boundary: one bad connection never stops the
    // I/O thread.
    return [self = shared_from_this(), fn = std::move(fn)](auto&&... args) mutable {
      try {
        fn(std::forward<decltype(args)>(args)...);
      } catch (const std::exception& e) {
        spdlog::error("msg=\"http: connection failed\" error={}", lf(e.what()));
        beast::error_code ec;
        self->stream_.socket().close(ec);
      }
    };
  }

  void wait_for_request() {
    // The deadline for the first byte of a request: read_timeout for the first one (set in
    // start), idle_timeout between kept-alive requests.
    stream_.expires_at(deadline_);
    if (buffer_.size() > 0) {
      read_request();
      return;
    }
    stream_.async_read_some(buffer_.prepare(4096), guarded([this](beast::error_code ec, size_t n) {
      if (ec) return on_read_error(ec);
      buffer_.commit(n);
      // The whole request must arrive within read_timeout of its first byte.
      deadline_ = std::chrono::steady_clock::now() + server_.options_.read_timeout;
      read_request();
    }));
  }

  void read_request() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    parser_->body_limit(server_.options_.max_body_bytes);
    stream_.expires_at(deadline_);
    http::async_read(stream_, buffer_, *parser_, guarded([this](beast::error_code ec, size_t) {
      if (ec) return on_read_error(ec);
      on_request(parser_->release());
    }));
  }

  void on_read_error(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      server_.timeouts_++;
      spdlog::debug("msg=\"http: connection timed out\" peer={}", lf(peer()));
      return close();
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset) {
      return close();
    }
    server_.bad_requests_++;
    keep_alive_ = false;
    if (ec == http::error::header_limit) {
      return write(error_response(431, "request header fields too large (http.max_header_bytes)"),
                   server_.options_.write_timeout);
    }
    if (ec == http::error::body_limit) {
      return write(error_response(413, "request body too large (http.max_body_bytes)"), server_.options_.write_timeout);
    }
    write(error_response(400, "malformed HTTP request: " + ec.message()), server_.options_.write_timeout);
  }

  void on_request(http::request<http::string_body> req) {
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      server_.bad_requests_++;
      HttpResponse r = error_response(405, "only GET and HEAD are served");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return write(std::move(r), server_.options_.write_timeout);
    }
    if (auto refused = check_host(req, server_.options_.listen)) {
      server_.bad_requests_++;
      return write(std::move(*refused), server_.options_.write_timeout);
    }
    if (std::string token = server_.token(); !token.empty()) {
      auto auth = req.find(http::field::authorization);
      std::string_view given = auth == req.end() ? std::string_view() : std::string_view(auth->value());
      constexpr std::string_view kBearer = "Bearer ";
      bool ok = given.size() > kBearer.size() && beast::iequals(given.substr(0, kBearer.size()), kBearer) &&
                constant_time_equal(given.substr(kBearer.size()), token);
      if (!ok) {
        server_.unauthorized_++;
        HttpResponse r = error_response(401, auth == req.end() ? "a bearer token is required"
                                                               : "the bearer token is not valid");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"emberd\"");
        return write(std::move(r), server_.options_.write_timeout);
      }
    }
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), peer()};
    std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
    if (server_.cheap_ && server_.cheap_(path)) {
      HttpResponse r;
      try {
        r = server_.handler_(request);
      } catch (const std::exception& e) {
        spdlog::error("msg=\"http: handler failed\" target={} error={}", lf(request.target), lf(e.what()));
        r = error_response(500, "internal error");
      }
      return write(std::move(r), server_.options_.write_timeout);
    }
    if (server_.queued_ >= server_.options_.max_queued) {
      server_.rejected_queries_++;
      HttpResponse r = error_response(503, "too many queries are waiting; try again later");
      r.headers.emplace_back("Retry-After", "2");
      return write(std::move(r), server_.options_.write_timeout);
    }
    server_.queued_++;
    request.control = std::make_shared<QueryControl>(Duration(server_.options_.query_timeout), "http.query_timeout");
    auto inflight = server_.add_inflight(request.control, request.method + " " + request.target);
    watch_for_hangup(request.control);
    asio::post(server_.workers_, [self = shared_from_this(), request = std::move(request), inflight]() mutable {
      HttpResponse r;
      request.control->begin();
      try {
        r = self->server_.handler_(request);
      } catch (const std::exception& e) {
        spdlog::error("msg=\"http: handler failed\" target={} error={}", lf(request.target), lf(e.what()));
        r = error_response(500, "internal error");
      }
      request.control->finish();
      self->server_.remove_inflight(inflight);
      asio::post(self->server_.ioc_, [self, r = std::move(r)]() mutable {
        self->server_.queued_--;
        try {
          self->write(std::move(r), self->server_.options_.write_timeout);
        } catch (const std::exception& e) {
          spdlog::error("msg=\"http: cannot answer\" error={}", lf(e.what()));
        }
      });
    });
  }

  // While a worker has the request, a readable socket with nothing to read means the client
  // hung up: its query is cancelled instead of running on for nobody. Bytes to read are the
  // next pipelined request and are left for after the answer.
  void watch_for_hangup(std::shared_ptr<QueryControl> control) {
    stream_.socket().async_wait(
        Socket::wait_read, [self = shared_from_this(), control = std::move(control)](beast::error_code ec) {
          // After the answer the watch may still fire (the next request, or the client closing
          // a kept-alive connection): that is no cancelled query.
          if (ec || control->cancelled() || control->finished()) return;
          char byte = 0;
          ssize_t n = ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            self->server_.cancelled_queries_++;
            control->cancel("the client closed the connection");
          }
        });
  }

  void write(HttpResponse r, std::chrono::milliseconds timeout) {
    int cls = r.status / 100;
    if (cls >= 2 && cls <= 5) server_.responses_[static_cast<size_t>(cls)]++;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_ ? version_ : 11);
    res->set(http::field::server, "emberd");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    res->set("X-Content-Type-Options", "nosniff");
    res->set("Referrer-Policy", "no-referrer");
    for (auto& [name, value] : r.headers) res->set(name, value);
    // After an oversized or broken request the rest of the stream cannot be trusted.
    if (r.status >= 500 || r.status == 431 || r.status == 413) keep_alive_ = false;
    res->keep_alive(keep_alive_);
    const size_t length = r.body.size();
    if (!head_) res->body() = std::move(r.body);
    res->content_length(length);
    stream_.expires_after(timeout);
    http::async_write(stream_, *res, guarded([this, res, length](beast::error_code ec, size_t) {
      if (length >= kTrimAfterBytes) {
        // A large answer is sent: give its memory back to the system now, not at some later
        // allocation (RSS stayed at 1.48 GB after one 1 GB answer).
        std::string().swap(res->body());
        ::malloc_trim(0);
      }
      if (ec) {
        if (ec == beast::error::timeout) server_.timeouts_++;
        return close();
      }
      if (!keep_alive_) return close();
      deadline_ = std::chrono::steady_clock::now() + server_.options_.idle_timeout;
      wait_for_request();
    }));
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(asio::socket_base::shutdown_send, ec);
    stream_.cancel();
    stream_.close();
  }

  std::string peer() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return "?";
    if (ep.protocol().family() == AF_INET || ep.protocol().family() == AF_INET6) {
      char buf[INET6_ADDRSTRLEN] = {};
      const sockaddr* sa = ep.data();
      if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        return fmt::format("{}:{}", buf, ntohs(in->sin_port));
      }
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      return fmt::format("[{}]:{}", buf, ntohs(in6->sin6_port));
    }
    return "unix";
  }

  Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::chrono::steady_clock::time_point deadline_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
};

Result<void> HttpServer::Impl::listen() {
  const ListenAddress& a = options_.listen;
  beast::error_code ec;
  Protocol::endpoint endpoint;
  if (a.unix_socket) {
    struct stat st{};
    if (::lstat(a.path.c_str(), &st) == 0) {
      // A socket left by an emberd that did not stop cleanly; anything else is not ours.
      if (!S_ISSOCK(st.st_mode)) {
        return make_error(ErrorCode::kInvalidArgument, a.path + ": exists and is not a socket");
      }
      ::unlink(a.path.c_str());
    }
    endpoint = Protocol::endpoint(asio::local::stream_protocol::endpoint(a.path));
  } else {
    auto address = asio::ip::make_address(a.host, ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, a.host + ": " + ec.message());
    endpoint = Protocol::endpoint(asio::ip::tcp::endpoint(address, a.port));
  }
  std::string where = a.unix_socket ? "unix:" + a.path : fmt::format("{}:{}", a.host, a.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot listen on " + where + ": " + ec.message());
  if (!a.unix_socket) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot listen on " + where + ": " + ec.message());
  if (a.unix_socket) ::chmod(a.path.c_str(), 0660);  // the owner and its group (e.g. adm)
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot listen on " + where + ": " + ec.message());
  if (a.unix_socket) {
    url_ = "unix:" + a.path;
  } else {
    auto local = acceptor_.local_endpoint(ec);
    uint16_t port = a.port;
    if (!ec) {
      const sockaddr* sa = local.data();
      port = sa->sa_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port)
                                      : ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
    }
    bool v6 = a.host.find(':') != std::string::npos;
    url_ = fmt::format("http://{}{}{}:{}/", v6 ? "[" : "", a.host, v6 ? "]" : "", port);
  }
  return {};
}

void HttpServer::Impl::accept() {
  acceptor_.async_accept([this](beast::error_code ec, Socket socket) {
    try {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        // EMFILE and friends: wait a moment instead of spinning on the same error.
        spdlog::warn("msg=\"http: accept failed\" error={}", lf(ec.message()));
        auto timer = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(100));
        timer->async_wait([this, timer](beast::error_code) {
          try {
            accept();
          } catch (const std::exception& e) {
            spdlog::error("msg=\"http: accept failed\" error={}", lf(e.what()));
          }
        });
        return;
      }
      connections_++;
      if (!options_.listen.unix_socket) socket.set_option(asio::ip::tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(*this, std::move(socket));
      if (open_ > options_.max_connections) {
        session->reject();
      } else {
        session->start();
      }
    } catch (const std::exception& e) {
      spdlog::error("msg=\"http: accept failed\" error={}", lf(e.what()));
    }
    accept();
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options, Handler handler,
                                                      std::function<bool(std::string_view)> cheap) {
  auto impl = std::make_unique<Impl>(options, std::move(handler), std::move(cheap));
  if (auto ok = impl->listen(); !ok) return std::unexpected(ok.error());
  impl->run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { stop(); }
std::string HttpServer::url() const { return impl_->url(); }
void HttpServer::set_token(std::string token) { impl_->set_token(std::move(token)); }
void HttpServer::stop() { impl_->stop(); }
void HttpServer::cancel_queries(std::string reason) { impl_->cancel_queries(std::move(reason)); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace ember::daemon
