// The push client: with http_server.cpp, the only translation unit that sees Asio and Beast.
// Written as one C++20 coroutine (send, wait, retry), which reads in the order things happen.

#include "daemon/push_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "daemon/http_server.h"
#include "daemon/logfmt.h"
#include "daemon/push_tls.h"
#include "daemon/url.h"

namespace ember::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::string random_boundary() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string b = "emberd-";
  for (int i = 0; i < 32; ++i) b += "0123456789abcdef"[hex(rd)];
  return b;
}

// How Pyroscope should read ember's sample types: "samples" (count) is the CPU profile.
constexpr std::string_view kSampleTypeConfig =
    R"({"samples":{"units":"samples","aggregation":"sum","display-name":"cpu","sampled":true}})";

}  // namespace


class PushClient::Impl {
 public:
  struct Item {
    std::shared_ptr<const std::string> pprof;
    std::string service;
    UnixNanos start = 0, end = 0;
    uint64_t snapshot = 0;  // which enqueue() it came from: the queue is bounded in snapshots
  };
  struct Outcome {
    bool ok = false;
    bool permanent = false;  // retrying cannot help (a 4xx other than 408/429)
    bool tls = false;        // the TLS handshake failed (certificate refused, protocol)
    std::string error;
  };

  Impl(const PushConfig& config, PushUrl url, std::string host, std::string authorization,
       std::shared_ptr<asio::ssl::context> tls)
      : config_(config), url_(std::move(url)), host_(std::move(host)), authorization_(std::move(authorization)),
        tls_(std::move(tls)), work_(asio::make_work_guard(ioc_)), wake_(ioc_), retry_(ioc_) {}

  ~Impl() { stop(Duration(0)); }

  void run() {
    asio::co_spawn(ioc_, loop(), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("msg=\"push: stopped by an unexpected error\" error={}", lf(ex.what()));
      }
    });
    thread_ = std::thread([this] {
      try {
        ioc_.run();
      } catch (const std::exception& e) {
        spdlog::error("msg=\"push: unexpected error\" error={}", lf(e.what()));
      }
    });
  }

  void enqueue(std::vector<PushPart> parts, UnixNanos start, UnixNanos end) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || parts.empty()) return;
      const uint64_t snapshot = ++snapshots_;
      for (PushPart& p : parts) queue_.push_back(Item{std::move(p.pprof), std::move(p.service), start, end, snapshot});
      while (snapshot - queue_.front().snapshot >= config_.max_queue) {
        const uint64_t oldest = queue_.front().snapshot;
        uint64_t series = 0;
        while (queue_.front().snapshot == oldest) {
          queue_.pop_front();
          ++series;
        }
        stats_.dropped += series;
        spdlog::warn("msg=\"push: queue full, oldest snapshot dropped\" max_queue={} series={}", config_.max_queue,
                     series);
      }
      stats_.queued = queue_.size();
    }
    asio::post(ioc_, [this] { wake_.cancel(); });
  }

  void stop(Duration drain) {
    std::call_once(stopped_, [&] {
      {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        drain_deadline_ = std::chrono::steady_clock::now() + drain;
      }
      asio::post(ioc_, [this] {
        wake_.cancel();
        retry_.cancel();
      });
      work_.reset();
      // The loop ends once the queue is empty or the drain time is over; then run() returns.
      if (thread_.joinable()) thread_.join();
      std::lock_guard lock(mutex_);
      if (!queue_.empty()) {
        spdlog::warn("msg=\"push: snapshots not sent before exit\" count={}", queue_.size());
        stats_.dropped += queue_.size();
        queue_.clear();
        stats_.queued = 0;
      }
    });
  }

  PushStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  bool past_drain() {
    std::lock_guard lock(mutex_);
    return stopping_ && std::chrono::steady_clock::now() >= drain_deadline_;
  }

  asio::awaitable<void> loop() {
    for (;;) {
      std::optional<Item> item;
      {
        std::lock_guard lock(mutex_);
        if (!queue_.empty()) {
          item = queue_.front();
        } else if (stopping_) {
          co_return;
        }
      }
      if (!item) {
        beast::error_code ec;
        wake_.expires_at(asio::steady_timer::time_point::max());
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (past_drain()) co_return;
      Duration delay = config_.initial_backoff;
      for (uint64_t attempt = 1;; ++attempt) {
        Outcome outcome;
        try {
          outcome = co_await send(*item);
        } catch (const std::exception& e) {
          outcome.error = e.what();
        }
        bool done = false;
        {
          std::lock_guard lock(mutex_);
          if (outcome.ok) {
            stats_.sent++;
            stats_.last_success = unix_now_ns();
            if (stats_.failing) spdlog::info("msg=\"push: sending again\" url={}", lf(describe_url()));
            stats_.failing = false;
            stats_.last_error.clear();
            done = true;
          } else {
            stats_.failures++;
            if (outcome.tls) stats_.tls_failures++;
            // One line when trouble starts, not one per retry.
            if (!stats_.failing) {
              spdlog::warn("msg=\"push: failed\" url={} error={} attempt={}", lf(describe_url()),
                           lf(outcome.error), attempt);
            }
            stats_.failing = true;
            stats_.last_error = outcome.error;
            const bool still_queued = !queue_.empty() && queue_.front().pprof == item->pprof;
            if (!still_queued) {
              done = true;  // dropped meanwhile to make room (counted there)
            } else if (outcome.permanent || attempt >= config_.max_attempts || stopping_) {
              stats_.dropped++;
              spdlog::warn("msg=\"push: snapshot given up\" error={} attempts={}", lf(outcome.error), attempt);
              done = true;
            }
          }
          if (done) {
            if (!queue_.empty() && queue_.front().pprof == item->pprof) queue_.pop_front();
            stats_.queued = queue_.size();
          }
        }
        if (done) break;
        beast::error_code ec;
        retry_.expires_after(delay);
        co_await retry_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        delay = std::min(delay * 2, config_.max_backoff);
      }
    }
  }

  std::string describe_url() const {
    return fmt::format("{}://{}:{}{}/ingest", url_.tls ? "https" : "http", url_.host, url_.port, url_.prefix);
  }

  std::chrono::steady_clock::duration timeout() const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(config_.timeout);
  }

  asio::awaitable<Outcome> send(const Item& item) {
    Outcome out;
    beast::error_code ec;
    asio::ip::tcp::resolver resolver(ioc_);
    auto endpoints = co_await resolver.async_resolve(url_.host, std::to_string(url_.port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "cannot resolve " + url_.host + ": " + ec.message();
      co_return out;
    }
    auto req = request(item);
    if (!tls_) {
      beast::tcp_stream stream(ioc_);
      stream.expires_after(timeout());
      co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        out.error = "cannot connect: " + ec.message();
        co_return out;
      }
      out = co_await exchange(stream, req);
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      co_return out;
    }
    // No plaintext fallback: a failed handshake is a failed attempt.
    beast::ssl_stream<beast::tcp_stream> stream(ioc_, *tls_);
    if (auto named = set_tls_peer_name(stream.native_handle(), url_.host); !named) {
      out.error = named.error().message();
      out.tls = true;
      co_return out;
    }
    beast::get_lowest_layer(stream).expires_after(timeout());
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "cannot connect: " + ec.message();
      co_return out;
    }
    beast::get_lowest_layer(stream).expires_after(timeout());
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = describe_tls_failure(stream.native_handle(), ec.message());
      out.tls = true;
      co_return out;
    }
    out = co_await exchange(stream, req);
    // close_notify, bounded by the timeout; a server that just closes is fine too.
    beast::get_lowest_layer(stream).expires_after(timeout());
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    co_return out;
  }

  http::request<http::string_body> request(const Item& item) const {
    const std::string boundary = random_boundary();
    std::string body;
    body.reserve(item.pprof->size() + 512);
    body += fmt::format(
        "--{}\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n",
        boundary);
    body += *item.pprof;
    body += fmt::format(
        "\r\n--{}\r\nContent-Disposition: form-data; name=\"sample_type_config\"; "
        "filename=\"sample_type_config.json\"\r\nContent-Type: application/json\r\n\r\n{}\r\n--{}--\r\n",
        boundary, kSampleTypeConfig, boundary);

    const std::string target = fmt::format(
        "{}/ingest?name={}&from={}&until={}&format=pprof&spyName=ember&sampleRate={}", url_.prefix,
        url_encode(push_series_name(config_, host_, item.service)), item.start / 1'000'000'000,
        (item.end + 999'999'999) / 1'000'000'000, 99);
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, url_.port == (url_.tls ? 443 : 80) ? url_.host : fmt::format("{}:{}", url_.host, url_.port));
    req.set(http::field::user_agent, "emberd/" EMBER_VERSION);
    req.set(http::field::content_type, "multipart/form-data; boundary=" + boundary);
    if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
    if (!config_.tenant_id.empty()) req.set("X-Scope-OrgID", config_.tenant_id);
    req.body() = std::move(body);
    req.prepare_payload();
    req.keep_alive(false);
    return req;
  }

  // One request and its answer over a connected (and, for https, handshaken) stream.
  template <class Stream>
  asio::awaitable<Outcome> exchange(Stream& stream, const http::request<http::string_body>& req) {
    Outcome out;
    beast::error_code ec;
    beast::get_lowest_layer(stream).expires_after(timeout());
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "cannot send: " + ec.message();
      co_return out;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);  // the answer is a status line and a short message
    beast::get_lowest_layer(stream).expires_after(timeout());
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.error = "no answer: " + ec.message();
      co_return out;
    }
    const unsigned status = parser.get().result_int();
    if (status >= 200 && status < 300) {
      out.ok = true;
      co_return out;
    }
    std::string text = parser.get().body().substr(0, 200);
    for (char& c : text) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    out.error = fmt::format("HTTP {}: {}", status, text);
    out.permanent = status >= 400 && status < 500 && status != 408 && status != 429;
    co_return out;
  }

  PushConfig config_;
  PushUrl url_;
  std::string host_;
  std::string authorization_;  // the whole header value; never logged
  std::shared_ptr<asio::ssl::context> tls_;  // null for http://

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer wake_;
  asio::steady_timer retry_;  // the backoff between attempts
  std::thread thread_;
  std::once_flag stopped_;

  mutable std::mutex mutex_;
  std::deque<Item> queue_;
  uint64_t snapshots_ = 0;  // enqueue() calls so far
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  PushStats stats_;
};

Result<std::unique_ptr<PushClient>> PushClient::start(const PushConfig& config, std::string host) {
  auto url = parse_push_url(config.url);
  if (!url) return std::unexpected(url.error());
  auto authorization = push_authorization(config);
  if (!authorization) return std::unexpected(authorization.error());
  std::shared_ptr<asio::ssl::context> tls;
  if (url->tls) {
    auto ctx = make_push_tls_context(config);
    if (!ctx) return std::unexpected(ctx.error());
    tls = std::move(*ctx);
  }
  auto impl = std::make_unique<Impl>(config, std::move(*url), std::move(host), std::move(*authorization), std::move(tls));
  impl->run();
  return std::unique_ptr<PushClient>(new PushClient(std::move(impl)));
}

PushClient::PushClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PushClient::~PushClient() { stop(Duration(0)); }

void PushClient::enqueue(std::vector<PushPart> parts, UnixNanos start, UnixNanos end) {
  impl_->enqueue(std::move(parts), start, end);
}

void PushClient::stop(Duration drain) { impl_->stop(drain); }
PushStats PushClient::stats() const { return impl_->stats(); }

}  // namespace ember::daemon
