#pragma once
// The deadline and the cancellation of one query. The HTTP server makes one per request it
// hands to a worker, starts its clock when a worker takes the request, and cancels it when the
// client hangs up or emberd stops; the query engine and the API call check() between steps
// (each snapshot, every few thousand samples, before rendering) and give up with its error.
// Nothing here interrupts a thread: a step that never returns would still hold its worker,
// which /healthz then reports as a stuck worker.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "common/error.h"
#include "daemon/units.h"

namespace ember::daemon {

class QueryControl {
 public:
  using Clock = std::chrono::steady_clock;

  // No deadline and never cancelled: for callers without a client (tests, internal lookups).
  QueryControl() = default;
  static const QueryControl& none();
  // `limit_name` is the configuration key that sets `timeout`, named in the error
  // ("http.query_timeout"). The clock starts with begin().
  QueryControl(Duration timeout, std::string limit_name);

  // Starts the clock: the deadline is `timeout` from now.
  void begin(Clock::time_point now = Clock::now());
  // Thread-safe; the first reason is kept ("the client closed the connection").
  void cancel(std::string reason);
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // The query has its answer: a client hanging up from now on cancels nothing.
  void finish() { finished_.store(true, std::memory_order_release); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // kInterrupted when cancelled or past the deadline (the message says which and names the
  // limit); success otherwise. Cheap: an atomic load and one clock read.
  [[nodiscard]] Result<void> check() const;
  bool started() const { return started_ns_.load(std::memory_order_acquire) != 0; }
  // How long it has run (zero before begin()).
  Duration running_for(Clock::time_point now = Clock::now()) const;
  // True when begun with a deadline that has passed by more than `grace`.
  bool overdue(Duration grace = Duration(0), Clock::time_point now = Clock::now()) const;
  Duration timeout() const { return timeout_; }
  const std::string& limit_name() const { return limit_name_; }

 private:
  static int64_t ns(Clock::time_point t) { return t.time_since_epoch().count(); }

  bool has_deadline_ = false;
  Duration timeout_{};
  std::string limit_name_;
  std::atomic<int64_t> started_ns_{0};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> finished_{false};
  mutable std::mutex mutex_;
  std::string reason_;
};

}  // namespace ember::daemon
