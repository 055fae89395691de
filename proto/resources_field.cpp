#include "proto/resources_field.h"

#include <fmt/format.h>

#include <cstdint>

#include "proto/wire.h"

namespace ember::proto {

namespace {

using wire::unzigzag;
using wire::zigzag;

// Counters never shrink; one that does (a reused pid read across an exec) is stored as zero.
uint64_t counter(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

void put_counters(std::string& out, uint32_t first, const profile::ResourceCounters& c, bool io) {
  wire::put_varint_field(out, first, counter(c.cpu_user_ns));
  wire::put_varint_field(out, first + 1, counter(c.cpu_system_ns));
  wire::put_varint_field(out, first + 2, counter(c.voluntary_ctx_switches));
  wire::put_varint_field(out, first + 3, counter(c.involuntary_ctx_switches));
  if (!io) return;
  // The I/O pair follows at 9, 10 (totals) and 15, 16 (interval).
  const uint32_t io_first = first == 5 ? 9 : 15;
  wire::put_varint_field(out, io_first, counter(c.io_read_bytes));
  wire::put_varint_field(out, io_first + 1, counter(c.io_write_bytes));
}

}  // namespace

void encode_resources(const profile::Profile& profile, std::string& out) {
  std::string message;
  for (const profile::ProcessResources& r : profile.resources) {
    message.clear();
    wire::put_varint_field(message, 1, zigzag(r.pid));
    wire::put_varint_field(message, 2, static_cast<uint64_t>(r.time_ns));
    wire::put_varint_field(message, 3, counter(r.rss_bytes));
    wire::put_varint_field(message, 4, counter(r.threads));
    put_counters(message, 5, r.total, r.has_io);
    if (r.has_interval) put_counters(message, 11, r.interval, r.has_io);
    wire::put_bytes_field(out, kResourcesFieldNumber, message);
  }
}

Result<void> decode_resources(std::string_view payload, profile::Profile& profile) {
  if (profile.resources.size() >= kMaxResourceProcesses) {
    return make_error(ErrorCode::kResourceExhausted,
                      fmt::format("ember resources: more than {} processes", kMaxResourceProcesses));
  }
  profile::ProcessResources r;
  bool has_pid = false;
  wire::Reader reader(payload);
  while (!reader.done()) {
    auto field = reader.next();
    if (!field) return make_error(ErrorCode::kMalformed, "ember resources: " + field.error().message());
    if (field->wire_type != wire::kVarint) continue;  // a newer ember's extra: skipped
    if (field->value > static_cast<uint64_t>(INT64_MAX)) {
      return make_error(ErrorCode::kMalformed, fmt::format("ember resources: field {} is out of range", field->number));
    }
    const auto v = static_cast<int64_t>(field->value);
    switch (field->number) {
      case 1: r.pid = static_cast<int32_t>(unzigzag(field->value)); has_pid = true; break;
      case 2: r.time_ns = v; break;
      case 3: r.rss_bytes = v; break;
      case 4: r.threads = v; break;
      case 5: r.total.cpu_user_ns = v; break;
      case 6: r.total.cpu_system_ns = v; break;
      case 7: r.total.voluntary_ctx_switches = v; break;
      case 8: r.total.involuntary_ctx_switches = v; break;
      case 9: r.total.io_read_bytes = v; r.has_io = true; break;
      case 10: r.total.io_write_bytes = v; r.has_io = true; break;
      case 11: r.interval.cpu_user_ns = v; r.has_interval = true; break;
      case 12: r.interval.cpu_system_ns = v; r.has_interval = true; break;
      case 13: r.interval.voluntary_ctx_switches = v; r.has_interval = true; break;
      case 14: r.interval.involuntary_ctx_switches = v; r.has_interval = true; break;
      case 15: r.interval.io_read_bytes = v; break;
      case 16: r.interval.io_write_bytes = v; break;
      default: break;
    }
  }
  if (!has_pid) return make_error(ErrorCode::kMalformed, "ember resources: a process without its pid");
  profile.resources.push_back(r);
  return {};
}

}  // namespace ember::proto
