#pragma once
// Which processes emberd records: the [targets] section turned into the collector's
// process_filter (asked when a process is first seen and again after it execs), and the
// regular expressions that configuration and queries use.

#include <functional>
#include <regex>
#include <string_view>

#include "collector/process_info.h"
#include "common/error.h"
#include "daemon/config.h"

namespace ember::daemon {

using ProcessFilter = std::function<bool(const collector::ProcessInfo&)>;

// Compiles an ECMAScript regex. Query patterns are untrusted: they are limited in length and may
// not use {n,m} repetition, which libstdc++ expands into a copy of the pattern per count (a few
// characters could ask for gigabytes).
[[nodiscard]] Result<std::regex> compile_regex(std::string_view pattern, bool untrusted);
[[nodiscard]] Result<void> check_target_regex(std::string_view pattern);
// `text` with every regex metacharacter escaped: "a.b" -> "a\\.b".
std::string regex_escape(std::string_view text);

// True when `cgroup` is `selector` or lies below it ("/system.slice" selects
// "/system.slice/nginx.service", not "/system.slice2").
bool cgroup_selected(std::string_view cgroup, std::string_view selector);

// An empty function for `all` (no filtering). Errors only for invalid regexes.
[[nodiscard]] Result<ProcessFilter> make_process_filter(const TargetConfig& targets);

// "all processes" or "pids 12,34; names ^nginx$; cgroups /system.slice/x.service".
std::string describe_targets(const TargetConfig& targets);

}  // namespace ember::daemon
