#pragma once
// What the push tests (plain and TLS) share: a polling wait and the snapshot they send.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "profiles.h"

namespace ember::daemon::test {

inline bool wait_for(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Two processes, 12 samples: 5 in nginx, 7 in postgres.
inline std::shared_ptr<const std::string> push_snapshot() {
  return std::make_shared<const std::string>(
      make_snapshot_bytes({{10, "nginx", {"main", "serve"}, 5}, {20, "postgres", {"main", "query"}, 7}}));
}

}  // namespace ember::daemon::test
