#pragma once
// The Prometheus text exposition format (version 0.0.4): HELP and TYPE once per family, then
// its samples; and what /proc says about emberd's own process.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::daemon {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  // HELP and TYPE of a family, then each of its samples.
  void header(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// emberd's own resource use, read from /proc/self.
struct SelfUsage {
  double cpu_seconds = 0;  // user + system
  uint64_t rss_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  double start_time_seconds = 0;  // Unix time
  uint64_t threads = 0;
};
SelfUsage read_self_usage();

}  // namespace ember::daemon
