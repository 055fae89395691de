#pragma once
// GET /healthz: ok or degraded with the reasons (sampling stopped, snapshots not written,
// push failing, a query worker stuck), and the figures an operator looks at first.

#include "daemon/http_types.h"
#include "daemon/status.h"

namespace ember::daemon {

// 200 while sampling runs (degraded still serves), 503 when it does not.
HttpResponse health_response(const DaemonStatus& status, UnixNanos now);

}  // namespace ember::daemon
