#include "daemon/push_series.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "daemon/profile_filter.h"
#include "profile/builder.h"
#include "proto/pprof.h"

namespace ember::daemon {

namespace {

// The service of each sample, as an index into `names`.
struct ServiceOfSamples {
  std::vector<std::string> names;
  std::vector<uint32_t> of_sample;
  std::vector<int64_t> samples;  // per service, the first value (samples) summed
};

ServiceOfSamples services_of(const profile::Profile& p) {
  ServiceOfSamples out;
  std::unordered_map<std::string, uint32_t> index;
  // Keys by string id first: a decoded profile may repeat a string, but a built one does not,
  // and each id is looked at once.
  std::unordered_map<uint32_t, uint32_t> by_id;
  out.of_sample.reserve(p.samples.size());
  for (const profile::Sample& s : p.samples) {
    profile::StringId service, comm;
    for (const profile::Label& l : s.labels) {
      std::string_view key = p.str(l.key);
      if (key == profile::kLabelService) service = l.str;
      else if (key == profile::kLabelComm) comm = l.str;
    }
    const profile::StringId id = service.value != 0 ? service : comm;
    auto [it, fresh] = by_id.try_emplace(id.value, 0);
    if (fresh) {
      // ":PID" is the collector's name for a process that was gone before it was seen: one
      // series for all of them, not one per pid.
      std::string_view name = p.str(id);
      const bool unnamed = name.size() > 1 && name[0] == ':' &&
                           name.find_first_not_of("0123456789", 1) == std::string_view::npos;
      auto [named, added] = index.try_emplace(series_safe(unnamed ? std::string_view() : name),
                                              static_cast<uint32_t>(out.names.size()));
      if (added) {
        out.names.push_back(named->first);
        out.samples.push_back(0);
      }
      it->second = named->second;
    }
    out.of_sample.push_back(it->second);
    if (!s.values.empty()) out.samples[it->second] += s.values[0];
  }
  return out;
}

}  // namespace

std::string series_safe(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 64)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-' || c == '@' || c == ':';
    out += keep ? c : '_';
  }
  return out.empty() ? std::string("unknown") : out;
}

std::string push_series_name(const PushConfig& config, std::string_view host, std::string_view service) {
  std::string labels = service.empty() ? fmt::format("host={}", host)
                                       : fmt::format("service_name={},host={}", service, host);
  for (const auto& [k, v] : config.labels) labels += fmt::format(",{}={}", k, v);
  return fmt::format("{}{{{}}}", service.empty() ? std::string_view(config.app_name) : service, labels);
}

Result<std::vector<PushPart>> push_parts(const profile::Profile& snapshot, std::shared_ptr<const std::string> whole,
                                         const PushConfig& config) {
  if (config.series != "service") return std::vector<PushPart>{PushPart{std::string(), std::move(whole)}};
  ServiceOfSamples services = services_of(snapshot);
  // Series of their own for the busiest max_series services, the rest as "other".
  std::vector<uint32_t> order(services.names.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return services.samples[a] > services.samples[b]; });
  std::vector<uint32_t> group(services.names.size());
  std::vector<std::string> groups;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    if (rank < config.max_series) {
      group[order[rank]] = static_cast<uint32_t>(groups.size());
      groups.push_back(services.names[order[rank]]);
    } else {
      if (rank == config.max_series) groups.emplace_back(kOtherService);
      group[order[rank]] = static_cast<uint32_t>(groups.size() - 1);
    }
  }
  std::vector<PushPart> parts;
  parts.reserve(groups.size());
  for (uint32_t g = 0; g < groups.size(); ++g) {
    profile::ProfileBuilder builder;
    const profile::Sample* first = snapshot.samples.data();
    auto keep = [&](const profile::Sample& s) { return group[services.of_sample[&s - first]] == g; };
    if (auto ok = merge_selected(builder, snapshot, keep, std::numeric_limits<size_t>::max()); !ok) {
      return std::unexpected(ok.error().with_context(fmt::format("service {}", groups[g])));
    }
    profile::Profile part = std::move(builder).finish();
    for (profile::StringId c : snapshot.comments) part.comments.push_back(part.strings.intern(snapshot.str(c)));
    auto bytes = proto::encode(part, proto::Compression::kGzip);
    if (!bytes) return std::unexpected(bytes.error().with_context(fmt::format("service {}", groups[g])));
    parts.push_back(PushPart{groups[g], std::make_shared<const std::string>(std::move(*bytes))});
  }
  return parts;
}

}  // namespace ember::daemon
