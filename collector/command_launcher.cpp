#include "collector/command_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

extern char** environ;

namespace ember::collector {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

Error exec_error(const std::string& name, int err) {
  return Error(err == ENOENT ? ErrorCode::kNotFound
               : (err == EACCES || err == EPERM) ? ErrorCode::kPermissionDenied
                                                  : ErrorCode::kInvalidArgument,
               "cannot execute '" + name + "': " + std::strerror(err), err);
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void child_main(int go_fd, int error_fd, const char* path, char* const* argv) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);

  char go = 0;
  ssize_t n;
  do {
    n = ::read(go_fd, &go, 1);
  } while (n < 0 && errno == EINTR);
  // EOF: the profiler gave up (or died) before the events were ready; run nothing.
  if (n != 1) _exit(127);
  ::close(go_fd);
  ::execve(path, argv, environ);
  int err = errno;
  ssize_t w;
  do {
    w = ::write(error_fd, &err, sizeof err);
  } while (w < 0 && errno == EINTR);
  _exit(127);
}

}  // namespace

Result<std::string> resolve_executable(const std::string& name) {
  if (name.empty()) return std::unexpected(exec_error(name, ENOENT));
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string path_list = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  bool found_not_executable = false;
  size_t start = 0;
  while (start <= path_list.size()) {
    size_t colon = path_list.find(':', start);
    std::string dir = path_list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir.push_back('.');  // an empty PATH element means the current directory
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (::access(candidate.c_str(), F_OK) == 0) found_not_executable = true;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return std::unexpected(exec_error(name, found_not_executable ? EACCES : ENOENT));
}

Result<LaunchedCommand> LaunchedCommand::spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no command to run");
  auto path = resolve_executable(argv[0]);
  if (!path) return std::unexpected(path.error());

  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> child_argv;
  child_argv.reserve(argv.size() + 1);
  for (const std::string& a : argv) child_argv.push_back(const_cast<char*>(a.c_str()));
  child_argv.push_back(nullptr);

  int go[2];
  int err[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return errno_error("pipe");
  common::UniqueFd go_read(go[0]);
  common::UniqueFd go_write(go[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return errno_error("pipe");
  common::UniqueFd err_read(err[0]);
  common::UniqueFd err_write(err[1]);

  pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    ::close(go[1]);
    ::close(err[0]);
    child_main(go[0], err[1], path->c_str(), child_argv.data());
  }
  LaunchedCommand cmd;
  cmd.pid_ = pid;
  cmd.name_ = argv[0];
  cmd.go_ = std::move(go_write);
  cmd.error_ = std::move(err_read);
  go_read.reset();
  err_write.reset();
  long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    Error e = Error::from_errno("pidfd_open");
    cmd.go_.reset();  // the child exits without running anything; the destructor reaps it
    return std::unexpected(std::move(e));
  }
  cmd.pidfd_.reset(static_cast<int>(pidfd));
  return cmd;
}

Result<void> LaunchedCommand::release() {
  char go = 'g';
  ssize_t w;
  do {
    w = ::write(go_.get(), &go, 1);
  } while (w < 0 && errno == EINTR);
  go_.reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  error_.reset();
  if (n == 0) return {};  // the pipe closed on exec: the command runs
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  wait_status_ = status;
  if (n != sizeof child_errno) {
    return make_error(ErrorCode::kInternal, "cannot execute '" + name_ + "': the child failed before exec");
  }
  return std::unexpected(exec_error(name_, child_errno));
}

bool LaunchedCommand::try_reap() {
  if (wait_status_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    wait_status_ = status;
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    // Someone else reaped it (SIGCHLD ignored, or another waitpid): it is gone, status unknown.
    wait_status_ = -1;
    return true;
  }
  return false;
}

void LaunchedCommand::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || try_reap()) return;
  ::kill(pid_, SIGTERM);
  pollfd p{pidfd_.get(), POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!try_reap()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (pidfd_) {
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {
      ::usleep(10000);
    }
  }
  if (!try_reap()) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    wait_status_ = status;
  }
}

LaunchedCommand& LaunchedCommand::operator=(LaunchedCommand&& other) noexcept {
  if (this != &other) {
    // A moved-from command owns no child: its destructor must not reap or kill anything.
    pid_ = std::exchange(other.pid_, -1);
    name_ = std::move(other.name_);
    pidfd_ = std::move(other.pidfd_);
    go_ = std::move(other.go_);
    error_ = std::move(other.error_);
    wait_status_ = std::exchange(other.wait_status_, std::nullopt);
  }
  return *this;
}

LaunchedCommand::~LaunchedCommand() {
  if (pid_ <= 0 || wait_status_) return;
  if (go_) {
    // Never released: closing the pipe makes the child exit without exec.
    go_.reset();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return;
  }
  terminate(std::chrono::milliseconds(2000));
}

}  // namespace ember::collector
