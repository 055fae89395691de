#pragma once
// Which processes emberd records: the [targets] section turned into the collector's
// process_filter (asked when a process is first seen and again after it execs), and the
// regular expressions that configuration and queries use.

#include <functional>
#include <string_view>

#include "collector/process_info.h"
#include "common/error.h"
#include "common/regex.h"
#include "daemon/config.h"

namespace ember::daemon {

using ProcessFilter = std::function<bool(const collector::ProcessInfo&)>;

// Compiles an RE2 regex (linear-time matching, see common/regex.h). Query patterns are
// untrusted and limited to 256 characters; the configuration's to 4096.
[[nodiscard]] Result<common::Regex> compile_regex(std::string_view pattern, bool untrusted);
[[nodiscard]] Result<void> check_target_regex(std::string_view pattern);

// True when `cgroup` is `selector` or lies below it ("/system.slice" selects
// "/system.slice/nginx.service", not "/system.slice2").
bool cgroup_selected(std::string_view cgroup, std::string_view selector);

// An empty function for `all` (no filtering). Errors only for invalid regexes.
[[nodiscard]] Result<ProcessFilter> make_process_filter(const TargetConfig& targets);

// "all processes" or "pids 12,34; names ^nginx$; cgroups /system.slice/x.service".
std::string describe_targets(const TargetConfig& targets);

}  // namespace ember::daemon
