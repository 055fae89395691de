#include "collector/sample_capture.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "collector/event_source.h"
#include "collector/ring_buffer.h"

namespace ember::collector {

namespace {
constexpr uint32_t kPerfRecordSample = 9;  // PERF_RECORD_SAMPLE
}  // namespace

Result<CapturedSamples> capture_samples(pid_t pid, uint32_t frequency, PerfSampleNeeds needs, double seconds) {
  using namespace std::chrono_literals;
  CapturedSamples c;
  EventSpec spec;
  spec.frequency_hz = frequency;
  spec.needs = needs;
  spec.max_stack = max_stack_depth();
  std::vector<std::string> warnings;
  std::string note;
  auto fd = negotiate_event(spec, pid, -1, warnings, note);
  if (!fd) {
    return make_error(ErrorCode::kIo, fmt::format("perf_event_open for pid {}: {}", pid, std::strerror(fd.error())));
  }
  c.format = spec.sample_format();
  c.event = spec.name();
  auto ring = MappedRing::map(*fd, size_t{32} << 20);
  if (!ring) return std::unexpected(ring.error());
  auto drain = [&] {
    ring->reader().read([&](std::span<const std::byte> record) {
      if (record.size() >= 8 && read_record_header(record.data()).type == kPerfRecordSample) {
        c.records.emplace_back(record.begin(), record.end());
      }
    });
  };
  if (auto r = enable_event(*fd); !r) return std::unexpected(r.error());
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
    drain();
  }
  disable_event(*fd);
  drain();
  return c;
}

}  // namespace ember::collector
