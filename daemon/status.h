#pragma once
// What the API reports about the daemon (/healthz, /metrics, the index page). The Daemon
// implements StatusSource; the API only reads.

#include <string>

#include "daemon/collector_loop.h"
#include "daemon/http_server.h"
#include "daemon/push_client.h"
#include "daemon/query_engine.h"
#include "daemon/snapshot_store.h"
#include "symbolizer/debuginfod_client.h"
#include "symbolizer/symbolizer.h"

namespace ember::daemon {

struct DaemonStatus {
  UnixNanos started = 0;
  std::string version;
  std::string host;
  std::string data_dir;
  Duration interval{};
  CollectorStatus collector;
  StoreStats store;
  QueryStats queries;
  HttpServerStats http;
  symbolizer::Stats symbolizer;
  bool debuginfod_enabled = false;
  symbolizer::DebuginfodStats debuginfod;
  bool push_enabled = false;
  PushStats push;
  uint64_t live_unique_stacks = 0;
  uint64_t live_bytes = 0;
  uint64_t reloads = 0;
  uint64_t reload_failures = 0;
};

class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual DaemonStatus status() const = 0;
};

}  // namespace ember::daemon
