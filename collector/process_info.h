#pragma once
// What a process filter sees about a process (the daemon records only matching processes).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ember::collector {

class ProcFs;

struct ProcessInfo {
  int32_t pid = 0;
  std::string_view comm;  // the process name (its main thread's comm)
  std::string_view exe;   // the executable's path; empty when unknown
  // The process's cgroup ("/system.slice/nginx.service" on cgroup v2), read from /proc on the
  // first call only: most filters never ask.
  std::string_view cgroup() const;

  const ProcFs* procfs = nullptr;  // where cgroup() reads from
  mutable std::optional<std::string> cgroup_cache;
};

}  // namespace ember::collector
