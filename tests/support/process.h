#pragma once
// Runs a program as a user would and captures what it prints.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ember::testing {

struct RunResult {
  int exit_code = -1;    // the exit status, or 128 + signal
  std::string out;       // stdout
  std::string err;       // stderr
  bool timed_out = false;
};

// Runs argv to completion (killing it after `timeout`), feeding `input` on stdin.
RunResult run(const std::vector<std::string>& argv, const std::string& input = {},
              std::chrono::seconds timeout = std::chrono::seconds(120));

// Runs `fn` in a forked child that dropped root for `nobody` (uid and gid 65534), kept dumpable
// as an ordinary user's processes are; returns what `fn` returned, or why it could not run.
std::string as_nobody(const std::function<std::string()>& fn);

// A program started in the background; killed and reaped when destroyed.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv);
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background();

  pid_t pid() const { return pid_; }
  // Waits for the first line on its stdout (e.g. a "ready" announcement); empty on EOF/timeout.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // The same for stderr (ember announces that it is sampling there).
  std::string read_err_line(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends a signal and collects the exit code and everything printed.
  RunResult finish(int signal, std::chrono::seconds timeout = std::chrono::seconds(60));
  // Waits for exit without a signal.
  RunResult wait(std::chrono::seconds timeout = std::chrono::seconds(60));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool reaped_ = false;
  std::string read_line_from(int& fd, std::string& buffer, std::chrono::milliseconds timeout);
};

}  // namespace ember::testing
