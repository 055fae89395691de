#pragma once
// The Prometheus text exposition format (version 0.0.4): HELP and TYPE once per family, then
// its samples; and what /proc says about emberd's own process.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/collector_stats.h"

namespace ember::daemon {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void counter(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  // A family with several labelled samples: the header once, then each sample.
  void family(std::string_view name, std::string_view type, std::string_view help,
              const std::vector<std::pair<Labels, double>>& samples);
  const std::string& text() const { return out_; }

 private:
  void header(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  std::string out_;
};

// Every field of the collector's stats, from collector_stat_fields(): a row's metric, or its
// family with reason="<reason>" (one header per family, at its first row).
void add_collector_metrics(PrometheusText& m, const collector::CollectorStats& stats);

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
