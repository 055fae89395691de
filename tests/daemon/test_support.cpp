#include "test_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace ember::daemon::test {

using namespace std::chrono_literals;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code ec2;
    if (!e.is_regular_file(ec2)) continue;
    std::string name = e.path().filename().string();
    if (name.ends_with(suffix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Child::Child(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    // Signals the test process blocks must not stay blocked in the child.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

void Child::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds limit) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

bool Child::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

namespace {

bool parse_url(const std::string& url, std::string& host, uint16_t& port) {
  // "http://127.0.0.1:PORT/"
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return false;
  std::string rest = url.substr(prefix.size());
  size_t slash = rest.find('/');
  rest = rest.substr(0, slash);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  host = rest.substr(0, colon);
  port = static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)));
  return true;
}

}  // namespace

int connect_to(const std::string& url) {
  std::string host;
  uint16_t port = 0;
  if (!parse_url(url, host, port)) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpResult http_raw(const std::string& url, const std::string& request, std::chrono::milliseconds timeout) {
  HttpResult result;
  int fd = connect_to(url);
  if (fd < 0) return result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (431) and close before reading everything
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    if (::poll(&p, 1, std::max(1, left)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    // A kept-alive answer is complete once Content-Length bytes of body are in.
    size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    std::string head = data.substr(0, head_end);
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t cl = head.find("\r\ncontent-length:");
    if (cl == std::string::npos) continue;
    size_t length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    if (request.rfind("HEAD ", 0) == 0 || data.size() >= head_end + 4 + length) break;
  }
  ::close(fd);
  size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos || data.rfind("HTTP/1.", 0) != 0) return result;
  std::istringstream head(data.substr(0, end));
  std::string line;
  std::getline(head, line);
  result.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    result.headers[name] = value;
  }
  result.body = data.substr(end + 4);
  return result;
}

HttpResult http_get(const std::string& url, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
  std::string host;
  uint16_t port = 0;
  parse_url(url, host, port);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  return http_raw(url, req, timeout);
}

Emberd::Emberd(const TempDir& dir, const std::vector<std::string>& args, const std::string& name)
    : stdout_path_(dir / (name + ".out")), stderr_path_(dir / (name + ".err")) {
  std::vector<std::string> argv = {EMBERD_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = std::make_unique<Child>(argv, stdout_path_, stderr_path_);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  const std::string marker = "emberd: serving ";
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = read_text(stdout_path_);
    size_t at = out.find(marker);
    if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
      url_ = out.substr(at + marker.size(), out.find('\n', at) - at - marker.size());
      return;
    }
    if (!child_->running()) return;
    std::this_thread::sleep_for(20ms);
  }
}

std::string Emberd::log() const { return read_text(stderr_path_); }

bool Emberd::wait_snapshots(uint64_t n, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResult m = get("/metrics");
    auto writes = metric_value(m.body, "emberd_snapshot_writes_total");
    if (writes && *writes >= static_cast<double>(n)) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::optional<double> json_number(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = json.find(needle);
  if (at == std::string::npos) return std::nullopt;
  at += needle.size();
  while (at < json.size() && json[at] == ' ') ++at;
  char* end = nullptr;
  double v = std::strtod(json.c_str() + at, &end);
  if (end == json.c_str() + at) return std::nullopt;
  return v;
}

std::optional<double> metric_value(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind(name, 0) != 0) continue;
    std::string rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '{')) continue;
    if (rest[0] == '{' && name.find('{') == std::string::npos) {
      // NAME{labels} VALUE when the caller did not name labels: take the first sample.
      rest = rest.substr(rest.find('}') + 1);
    }
    return std::strtod(rest.c_str(), nullptr);
  }
  return std::nullopt;
}

uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

int run_command(const std::string& command, std::string* output) {
  ember::testing::RunResult r = ember::testing::run({"/bin/sh", "-c", command + " 2>&1"}, {}, std::chrono::seconds(600));
  if (output) *output = r.out;
  return r.exit_code;
}

bool have_program(const std::string& name) {
  return run_command("command -v " + name + " >/dev/null") == 0;
}

}  // namespace ember::daemon::test
