#include "daemon/query_control.h"

#include <fmt/format.h>

namespace ember::daemon {

QueryControl::QueryControl(Duration timeout, std::string limit_name)
    : has_deadline_(true), timeout_(timeout), limit_name_(std::move(limit_name)) {}

const QueryControl& QueryControl::none() {
  static const QueryControl unlimited;
  return unlimited;
}

void QueryControl::begin(Clock::time_point now) { started_ns_.store(std::max<int64_t>(1, ns(now)), std::memory_order_release); }

void QueryControl::cancel(std::string reason) {
  std::lock_guard lock(mutex_);
  if (cancelled_) return;
  reason_ = std::move(reason);
  cancelled_.store(true, std::memory_order_release);
}

Duration QueryControl::running_for(Clock::time_point now) const {
  const int64_t start = started_ns_.load(std::memory_order_acquire);
  if (start == 0) return Duration(0);
  return std::chrono::duration_cast<Duration>(Clock::duration(ns(now) - start));
}

bool QueryControl::overdue(Duration grace, Clock::time_point now) const {
  return has_deadline_ && started() && running_for(now) > timeout_ + grace;
}

Result<void> QueryControl::check() const {
  if (cancelled()) {
    std::lock_guard lock(mutex_);
    return make_error(ErrorCode::kInterrupted, "query cancelled: " + reason_);
  }
  if (overdue()) {
    return make_error(ErrorCode::kInterrupted,
                      fmt::format("the query ran longer than {} ({}): narrow the time range, filter by pid, comm or "
                                  "label, or raise {}",
                                  limit_name_, format_duration(timeout_), limit_name_));
  }
  return {};
}

}  // namespace ember::daemon
