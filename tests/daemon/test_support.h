#pragma once
// Helpers for the daemon tests: temporary directories, child processes, a plain-socket HTTP
// client (the tests must not share the server's HTTP library), and an emberd under test.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ember::daemon::test {
// The shared temporary directory (tests/support/temp_dir.h).
using TempDir = ember::testing::TempDir;

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
// Regular files in `dir` whose names end in `suffix`, sorted.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix = "");

// A child process: argv[0] is a path. stdout and stderr go to files (read them any time).
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path);
  ~Child();  // SIGKILL and reap, if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // The wait status, or nullopt if it did not exit within `limit`.
  std::optional<int> wait(std::chrono::milliseconds limit);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed, closed or timed out)
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// One request over a fresh connection (Connection: close). `raw` sends exactly those bytes.
HttpResult http_get(const std::string& url, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
HttpResult http_raw(const std::string& url, const std::string& request,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
// A connected TCP socket to the server of `url` (caller closes it).
int connect_to(const std::string& url);

// emberd started for a test: --listen 127.0.0.1:0, the URL read from its first line.
class Emberd {
 public:
  // `args` after the executable. Waits for "emberd: serving URL"; on failure url() is empty.
  Emberd(const TempDir& dir, const std::vector<std::string>& args, const std::string& name = "emberd");
  const std::string& url() const { return url_; }
  Child& process() { return *child_; }
  std::string log() const;  // its stderr so far
  // GET helpers.
  HttpResult get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
    return http_get(url_, path, headers);
  }
  // Waits until /healthz says at least `n` snapshots were written.
  bool wait_snapshots(uint64_t n, std::chrono::seconds limit);

 private:
  std::string stdout_path_;
  std::string stderr_path_;
  std::unique_ptr<Child> child_;
  std::string url_;
};

// A workload fixture process ("ready" on stdout once running).
using Workload = ember::testing::Background;
inline bool ready(Workload& w) { return w.read_line(std::chrono::seconds(30)) == "ready"; }

// A number from JSON-ish text: the value after "\"key\": " (first occurrence).
std::optional<double> json_number(const std::string& json, const std::string& key);
// A Prometheus sample value: the line "NAME VALUE" or "NAME{...} VALUE" (first match).
std::optional<double> metric_value(const std::string& text, const std::string& name_with_labels);

// VmRSS of a process in bytes (0 when gone).
uint64_t rss_bytes(pid_t pid);

// Runs a command (through sh -c), returns its exit status and output (stdout + stderr).
int run_command(const std::string& command, std::string* output = nullptr);
bool have_program(const std::string& name);

}  // namespace ember::daemon::test
