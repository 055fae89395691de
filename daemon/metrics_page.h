#pragma once
// GET /metrics: every metric emberd exports, listed in one table (metrics_page.cpp) of name,
// type, help and the function that reads its value from the daemon's status.

#include <string>

#include "daemon/metrics.h"
#include "daemon/status.h"

namespace ember::daemon {

// The Prometheus text exposition of `status` and of the process's own use.
std::string metrics_text(const DaemonStatus& status, const SelfUsage& self);

}  // namespace ember::daemon
