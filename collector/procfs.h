#pragma once
// Reading what /proc says about processes. Every reader takes the proc root ("/proc", or a
// fake directory in tests) and treats a vanished process as a normal outcome, not an error.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/proc_maps.h"

namespace ember::collector {

// The maps parser lives in common/ (the Python reader uses it too).
using common::MapsEntry;
using common::parse_maps_line;

class ProcFs {
 public:
  explicit ProcFs(std::string root = "/proc") : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  std::string path(int32_t pid, std::string_view leaf) const;
  bool exists(int32_t pid) const;

  // nullopt when the process is gone (or the file unreadable).
  std::optional<std::string> comm(int32_t pid) const;
  std::optional<std::string> thread_comm(int32_t pid, int32_t tid) const;
  std::optional<std::string> exe(int32_t pid) const;  // readlink of /proc/PID/exe
  std::optional<std::vector<MapsEntry>> maps(int32_t pid) const;
  std::optional<std::vector<int32_t>> threads(int32_t pid) const;
  std::optional<std::string> cgroup(int32_t pid) const;
  // The cgroup path systemd manages the process in (see systemd_cgroup in procfs.cpp); "" when
  // the file names none.
  std::optional<std::string> systemd_cgroup(int32_t pid) const;
  // The thread-group id of a task id, from /proc/TID/status.
  std::optional<int32_t> tgid(int32_t tid) const;
  std::vector<int32_t> all_pids() const;

 private:
  std::string root_;
};

// The systemd service of a process, from its cgroup path (ProcFs::systemd_cgroup): the
// innermost "NAME.service" component without the suffix ("/system.slice/nginx.service" ->
// "nginx", ".../user@1000.service/app.slice/app-x.service" -> "app-x"). Empty when the process
// is in no service (a login session's scope, a container's scope, no systemd).
std::string systemd_service(std::string_view cgroup);

// "0-3,5,7-8" (the format of /sys/devices/system/cpu/online) to a list of CPU numbers.
[[nodiscard]] Result<std::vector<int>> parse_cpu_list(std::string_view text);
[[nodiscard]] Result<std::vector<int>> online_cpus();

// Reads one integer from a /proc/sys file, e.g. /proc/sys/kernel/perf_event_paranoid.
std::optional<int64_t> read_sysctl_int(const std::string& path);

}  // namespace ember::collector
