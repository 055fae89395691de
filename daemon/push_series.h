#pragma once
// What a snapshot becomes on a Pyroscope server: one series per service (Pyroscope's own
// convention, service_name, which its UI lists and queries by) or one per host.
//
// A service is the sample's service_name label (the systemd service of the process, set by the
// collector), else its process name. Each snapshot's busiest max_series services get a series
// each; the rest go together as the service "other", so a host with thousands of short-lived
// processes does not create thousands of series on the server.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "daemon/config.h"
#include "profile/profile.h"

namespace ember::daemon {

// The service that holds the samples past max_series.
inline constexpr std::string_view kOtherService = "other";

struct PushPart {
  std::string service;  // empty: the whole host (series = "host")
  std::shared_ptr<const std::string> pprof;  // gzip'd
};

// The parts of one snapshot. `whole` is the snapshot's own encoding, sent as is when
// config.series is "host".
[[nodiscard]] Result<std::vector<PushPart>> push_parts(const profile::Profile& snapshot,
                                                       std::shared_ptr<const std::string> whole,
                                                       const PushConfig& config);

// The series name Pyroscope expects (URL-encoded by the caller): "SERVICE{service_name=SERVICE,
// host=h,k=v}" for a service, "APP_NAME{host=h,k=v}" for a host.
std::string push_series_name(const PushConfig& config, std::string_view host, std::string_view service = {});

// A process name or unit made fit for a series name and a label value: letters, digits and
// "_.-@:" kept, anything else '_', at most 64 bytes, "unknown" when empty.
std::string series_safe(std::string_view name);

}  // namespace ember::daemon
