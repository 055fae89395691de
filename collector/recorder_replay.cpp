// Recorder::replay: perf records from a byte stream instead of the kernel's rings, through the
// same path as a live recording from on_raw_record() on (see Replay in recorder.h).

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "collector/recorder_impl.h"

namespace ember::collector {

namespace {
constexpr size_t kRecordHeaderBytes = 8;  // perf_event_header: u32 type, u16 misc, u16 size
}

Result<void> Recorder::Impl::replay(const Replay& input) {
  if (!input.format.supported()) {
    return make_error(ErrorCode::kInvalidArgument, "the sample format holds a field ember cannot read");
  }
  if (input.frequency_hz == 0) {
    return make_error(ErrorCode::kInvalidArgument, "the sampling frequency must be at least 1 Hz");
  }
  format_ = input.format;
  event_name_ = input.event_name;
  spec_.frequency_hz = input.frequency_hz;
  period_ns_ = static_cast<int64_t>(1'000'000'000ull / input.frequency_hz);
  start_window();
  std::span<const std::byte> rest = input.records;
  for (size_t index = 0; !rest.empty(); ++index) {
    const size_t offset = input.records.size() - rest.size();
    uint16_t size = 0;
    if (rest.size() >= kRecordHeaderBytes) std::memcpy(&size, rest.data() + 6, sizeof size);
    if (rest.size() < kRecordHeaderBytes || size < kRecordHeaderBytes || size > rest.size()) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("record {} at byte {}: {} bytes left, the header says {}", index, offset,
                                    rest.size(), size));
    }
    stats_.records++;
    stats_.bytes += size;
    on_raw_record(rest.first(size));
    rest = rest.subspan(size);
  }
  reorder_.flush_all();
  if (off_cpu_) off_cpu_->applied_until(UINT64_MAX);
  python_.expire(UINT64_MAX);
  finished_ = true;
  stopped_ = true;
  return {};
}

Result<std::unique_ptr<Recorder>> Recorder::replay(const Replay& replay, const RecordOptions& options) {
  auto user = make_user_unwinder(options.call_graph, options.stack_size, options.dwarf_engine);
  if (!user) return std::unexpected(user.error());
  constexpr size_t kMaxHeldFiles = 64;
  auto impl = std::make_unique<Impl>(options, std::move(*user), kMaxHeldFiles, ProcFs(replay.proc_root));
  if (auto r = impl->replay(replay); !r) return std::unexpected(r.error());
  return std::unique_ptr<Recorder>(new Recorder(std::move(impl)));
}

}  // namespace ember::collector
