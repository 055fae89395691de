#include "tests/support/process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

extern char** environ;

namespace ember::testing {

namespace {

struct Spawned {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

Spawned spawn(const std::vector<std::string>& argv) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  // Its own process group, so that a terminal's Ctrl-C reaching the test does not reach it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Spawned s;
  int rc = posix_spawn(&s.pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    throw std::runtime_error("posix_spawn " + argv[0] + " failed: " + std::to_string(rc));
  }
  s.in = in[1];
  s.out = out[0];
  s.err = err[0];
  return s;
}

// Reads what is available from the fds into the strings until both reach EOF or the deadline.
bool drain(int& out_fd, int& err_fd, std::string& out, std::string& err,
           std::chrono::steady_clock::time_point deadline) {
  while (out_fd >= 0 || err_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int n = poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? out_fd : err_fd;
      if (fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      ssize_t r = read(fd, buffer, sizeof buffer);
      if (r > 0) {
        (i == 0 ? out : err).append(buffer, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        close(fd);
        fd = -1;
      }
    }
  }
  return true;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, const std::string& input,
              std::chrono::seconds timeout) {
  Spawned s = spawn(argv);
  // Small inputs fit in the pipe; tests do not feed more than that.
  if (!input.empty() && write(s.in, input.data(), input.size()) < 0) {
    // The program may not read stdin at all; that is its business.
  }
  close(s.in);
  RunResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!drain(s.out, s.err, result.out, result.err, deadline)) {
    result.timed_out = true;
    kill(s.pid, SIGKILL);
    if (s.out >= 0) close(s.out);
    if (s.err >= 0) close(s.err);
  }
  int status = 0;
  while (waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = exit_code_of(status);
  return result;
}

Background::Background(const std::vector<std::string>& argv) {
  Spawned s = spawn(argv);
  close(s.in);
  pid_ = s.pid;
  out_fd_ = s.out;
  err_fd_ = s.err;
}

Background::~Background() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

std::string Background::read_line(std::chrono::milliseconds timeout) {
  return read_line_from(out_fd_, out_, timeout);
}

std::string Background::read_err_line(std::chrono::milliseconds timeout) {
  return read_line_from(err_fd_, err_, timeout);
}

std::string Background::read_line_from(int& fd_ref, std::string& buffer_ref, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buffer_ref.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_ref.substr(0, nl);
      buffer_ref.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ref < 0) return {};
    pollfd fd{fd_ref, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[4096];
    ssize_t r = read(fd_ref, buffer, sizeof buffer);
    if (r <= 0) {
      close(fd_ref);
      fd_ref = -1;
      return {};
    }
    buffer_ref.append(buffer, static_cast<size_t>(r));
  }
}

RunResult Background::finish(int signal, std::chrono::seconds timeout) {
  if (signal != 0) kill(pid_, signal);
  return wait(timeout);
}

RunResult Background::wait(std::chrono::seconds timeout) {
  RunResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!drain(out_fd_, err_fd_, out_, err_, deadline)) {
    result.timed_out = true;
    kill(pid_, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  result.exit_code = exit_code_of(status);
  result.out = out_;
  result.err = err_;
  return result;
}

std::string as_nobody(const std::function<std::string()>& fn) {
  int out[2];
  if (::pipe(out) != 0) return "pipe failed";
  pid_t child = ::fork();
  if (child == 0) {
    ::close(out[0]);
    std::string result = "cannot drop privileges";
    // Changing uid makes a process non-dumpable, which would bar it from profiling even its own
    // children; an ordinary user's processes are dumpable.
    if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
        ::setresuid(65534, 65534, 65534) == 0 && ::prctl(PR_SET_DUMPABLE, 1) == 0) {
      result = fn();
    }
    (void)!::write(out[1], result.data(), result.size());
    _exit(0);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  return text;
}

}  // namespace ember::testing
