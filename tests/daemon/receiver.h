#pragma once
// A loopback HTTP receiver standing in for a Pyroscope server: it takes POST /ingest requests
// one at a time, splits the multipart form, and answers with the statuses it is given. Given
// an OpenSSL server context it speaks TLS (the handshake done by OpenSSL itself).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ember::daemon::test {

struct Received {
  std::string target;
  std::map<std::string, std::string> headers;
  std::string profile;            // the "profile" form field
  std::string sample_type_config; // the "sample_type_config" form field
};

// Accepts connections one at a time and answers each with the next status of `statuses`
// (the last one repeats).
class Receiver {
 public:
  // `tls`: a server context (certificate and key loaded), or null for plain HTTP. `port` 0:
  // any free port.
  explicit Receiver(std::vector<int> statuses, SSL_CTX* tls = nullptr, uint16_t port = 0)
      : statuses_(std::move(statuses)), tls_(tls) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int requests() const { return requests_; }
  // TLS handshakes that failed (the client refused the certificate, or spoke plain HTTP).
  int handshake_failures() const { return handshake_failures_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (tls_ == nullptr) {
        handle(c, nullptr);
      } else {
        SSL* ssl = SSL_new(tls_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) {
          handle(c, ssl);
          SSL_shutdown(ssl);
        } else {
          handshake_failures_++;
        }
        SSL_free(ssl);
      }
      ::close(c);
    }
  }
  void handle(int c, SSL* ssl) {
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos;
    size_t length = 0;
    while (true) {
      ssize_t n;
      if (ssl != nullptr) {
        n = SSL_read(ssl, buf, sizeof buf);
      } else {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return;
        n = ::recv(c, buf, sizeof buf, 0);
      }
      if (n <= 0) return;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end != std::string::npos) {
          std::string lower = data.substr(0, header_end);
          for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          size_t cl = lower.find("content-length:");
          if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 15));
        }
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
    }
    Received r;
    std::string head = data.substr(0, header_end);
    std::string body = data.substr(header_end + 4, length);
    size_t sp1 = head.find(' ');
    r.target = head.substr(sp1 + 1, head.find(' ', sp1 + 1) - sp1 - 1);
    size_t line = head.find("\r\n");
    while (line != std::string::npos) {
      size_t next = head.find("\r\n", line + 2);
      std::string h = head.substr(line + 2, next == std::string::npos ? std::string::npos : next - line - 2);
      size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[name] = h.substr(colon + 2);
      }
      line = next;
    }
    // multipart/form-data; boundary=B
    std::string boundary = r.headers["content-type"].substr(r.headers["content-type"].find("boundary=") + 9);
    std::string delimiter = "--" + boundary;
    size_t at = body.find(delimiter);
    while (at != std::string::npos) {
      size_t part_start = at + delimiter.size();
      if (body.compare(part_start, 2, "--") == 0) break;
      size_t part_head_end = body.find("\r\n\r\n", part_start);
      size_t next = body.find("\r\n" + delimiter, part_head_end);
      if (part_head_end == std::string::npos || next == std::string::npos) break;
      std::string part_head = body.substr(part_start, part_head_end - part_start);
      std::string content = body.substr(part_head_end + 4, next - part_head_end - 4);
      if (part_head.find("name=\"profile\"") != std::string::npos) r.profile = content;
      if (part_head.find("name=\"sample_type_config\"") != std::string::npos) r.sample_type_config = content;
      at = next + 2;
    }
    int status;
    {
      std::lock_guard lock(mutex_);
      received_.push_back(std::move(r));
      status = statuses_[std::min<size_t>(requests_, statuses_.size() - 1)];
      requests_++;
    }
    std::string answer = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    if (ssl != nullptr) {
      SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
    } else {
      ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> statuses_;
  std::atomic<bool> stop_{false};
  SSL_CTX* tls_ = nullptr;
  std::atomic<int> requests_{0};
  std::atomic<int> handshake_failures_{0};
  std::mutex mutex_;
  std::vector<Received> received_;
  std::thread thread_;
};

}  // namespace ember::daemon::test
