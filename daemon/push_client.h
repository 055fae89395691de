#pragma once
// Sends each snapshot to a Pyroscope-compatible server over http:// or https:// (push_tls.h) as well (Grafana Pyroscope's
// POST /ingest?name=APP.cpu{host=...}&from=&until=&format=pprof, the pprof file in the
// multipart form field "profile"), so that a fleet needs no home-made cluster: the server
// scales, every emberd keeps its own store as the embedded default.
//
// Its own thread and io_context (Beast inside push_client.cpp only); a bounded queue (the
// oldest snapshot is dropped past push.max_queue); retries with exponential backoff; every
// network step has a timeout.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "daemon/config.h"
#include "daemon/push_series.h"
#include "daemon/units.h"

namespace ember::daemon {

struct PushStats {
  uint64_t sent = 0;       // series pushes accepted by the server (2xx); a snapshot is one per service
  uint64_t failures = 0;   // attempts that failed (network error, timeout, non-2xx)
  uint64_t tls_failures = 0;  // of those, TLS handshakes refused (certificate, host name, protocol)
  uint64_t dropped = 0;    // series pushes given up: attempts exhausted, refused (4xx) or queue full
  uint64_t queued = 0;     // series pushes waiting
  bool failing = false;    // the last attempt failed
  std::string last_error;
  UnixNanos last_success = 0;
};

class PushClient {
 public:
  // `host` is the value of the host= label of the series.
  [[nodiscard]] static Result<std::unique_ptr<PushClient>> start(const PushConfig& config, std::string host);
  ~PushClient();
  PushClient(const PushClient&) = delete;
  PushClient& operator=(const PushClient&) = delete;

  // Queues one snapshot covering [start, end): its series (push_series.h), each a gzip'd pprof.
  // The queue holds at most push.max_queue snapshots; past it the oldest one is dropped whole.
  void enqueue(std::vector<PushPart> parts, UnixNanos start, UnixNanos end);
  // The whole host as one series (series = "host").
  void enqueue(std::shared_ptr<const std::string> pprof, UnixNanos start, UnixNanos end) {
    enqueue(std::vector<PushPart>{PushPart{std::string(), std::move(pprof)}}, start, end);
  }
  // Tries to send what is queued for up to `drain`, then stops. Idempotent.
  void stop(Duration drain);
  PushStats stats() const;

  class Impl;

 private:
  explicit PushClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};


}  // namespace ember::daemon
