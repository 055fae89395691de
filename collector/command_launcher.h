#pragma once
// Launching the command to profile. The child is forked first and waits on a pipe, so that
// the perf events (enable_on_exec, inherit) can be attached to it before it runs anything;
// release() lets it exec. An exec that fails is reported back through a close-on-exec pipe:
// the parent reads EOF when exec succeeded, the errno when it did not.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace ember::collector {

// Looks `name` up like execvp does: as given when it contains '/', else in $PATH.
[[nodiscard]] Result<std::string> resolve_executable(const std::string& name);

class LaunchedCommand {
 public:
  // Forks the child; it waits for release(). The executable is resolved first, so a missing
  // command fails here without a fork.
  [[nodiscard]] static Result<LaunchedCommand> spawn(const std::vector<std::string>& argv);

  LaunchedCommand(LaunchedCommand&& other) noexcept { *this = std::move(other); }
  LaunchedCommand& operator=(LaunchedCommand&& other) noexcept;
  LaunchedCommand(const LaunchedCommand&) = delete;
  LaunchedCommand& operator=(const LaunchedCommand&) = delete;
  ~LaunchedCommand();

  pid_t pid() const { return pid_; }
  // Readable once the process has exited (a pidfd).
  const common::UniqueFd& exit_fd() const { return pidfd_; }

  // Lets the child exec; returns once it has (or reports why it could not, after reaping it).
  [[nodiscard]] Result<void> release();
  // Reaps the child if it has exited; true once reaped.
  bool try_reap();
  // SIGTERM, then SIGKILL after `grace`, and reap.
  void terminate(std::chrono::milliseconds grace);
  bool reaped() const { return wait_status_.has_value(); }
  std::optional<int> wait_status() const { return wait_status_; }

 private:
  LaunchedCommand() = default;

  pid_t pid_ = -1;
  std::string name_;  // argv[0], for messages
  common::UniqueFd pidfd_;
  common::UniqueFd go_;     // write end: one byte lets the child exec
  common::UniqueFd error_;  // read end: the child's exec errno, or EOF
  std::optional<int> wait_status_;
};

}  // namespace ember::collector
