#include "daemon/collector_loop.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "daemon/logfmt.h"
#include "daemon/target_filter.h"

namespace ember::daemon {

namespace {

using namespace std::chrono_literals;

// How often the Recorder's window moves into the live window: how fresh live queries are.
constexpr auto kFlushEvery = 1s;
// How long one poll may wait for data: how quickly stop and reload requests are seen.
constexpr auto kPollTimeout = 100ms;

// Counters add up over Recorders; gauges (what is held now) come from the current one.
collector::CollectorStats combined(const collector::CollectorStats& retired,
                                   const collector::CollectorStats& current) {
  collector::CollectorStats out = current;
  out += retired;
  return out;
}

}  // namespace

Result<collector::RecordOptions> record_options(const CollectorSettings& s) {
  collector::RecordOptions o;
  o.frequency_hz = s.profiling.frequency_hz;
  o.call_graph = s.profiling.call_graph;
  o.stack_size = s.profiling.stack_size;
  o.kernel_frames = s.profiling.kernel_frames;
  o.python.enabled = s.profiling.python;
  o.off_cpu = s.profiling.off_cpu;
  o.off_cpu_threshold_ns = s.profiling.off_cpu_threshold_us * 1000;
  o.buffer_bytes_per_cpu = s.profiling.ring_bytes_per_cpu;
  o.max_unique_stacks = s.profiling.max_unique_stacks;
  o.max_processes = s.profiling.max_processes;
  auto filter = make_process_filter(s.targets);
  if (!filter) return std::unexpected(filter.error());
  o.process_filter = std::move(*filter);
  return o;
}

CollectorLoop::CollectorLoop(LiveWindow& live) : live_(live) {}

CollectorLoop::~CollectorLoop() { stop(); }

Result<void> CollectorLoop::start(const CollectorSettings& settings) {
  auto request = std::make_shared<Request>(Request{settings, std::nullopt});
  {
    std::lock_guard lock(mutex_);
    request_ = request;
  }
  thread_ = std::thread([this] { run(); });
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return request->answer.has_value(); });
  Result<void> answer = *request->answer;
  lock.unlock();
  if (!answer) {
    stop_ = true;
    thread_.join();
  }
  return answer;
}

Result<void> CollectorLoop::reconfigure(const CollectorSettings& settings) {
  if (!thread_.joinable()) return make_error(ErrorCode::kInternal, "the collector is not running");
  auto request = std::make_shared<Request>(Request{settings, std::nullopt});
  std::unique_lock lock(mutex_);
  request_ = request;
  cv_.wait(lock, [&] { return request->answer.has_value() || stop_; });
  if (!request->answer) return make_error(ErrorCode::kInterrupted, "the collector is stopping");
  return *request->answer;
}

void CollectorLoop::stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

CollectorStatus CollectorLoop::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::vector<profile::ProcessResources> CollectorLoop::read_resources(const profile::RawProfile& window,
                                                                    UnixNanos window_start) {
  std::vector<int32_t> pids = busiest_processes(window, SIZE_MAX);
  ResourceReadStats counted;
  if (pids.size() > ResourceReader::kMaxProcesses) {
    counted.over_bound = pids.size() - ResourceReader::kMaxProcesses;
    pids.resize(ResourceReader::kMaxProcesses);
  }
  std::vector<profile::ProcessResources> out;
  {
    std::lock_guard lock(resources_mutex_);
    out = resources_.read(pids, window_start, ResourceReader::Clocks::now(), counted);
  }
  std::lock_guard lock(mutex_);
  status_.resources += counted;
  return out;
}

Result<std::unique_ptr<collector::Recorder>> CollectorLoop::open(const CollectorSettings& settings,
                                                                 std::string& call_graph) {
  auto options = record_options(settings);
  if (!options) return std::unexpected(options.error());
  call_graph = options->call_graph == collector::CallGraphMode::kDwarf ? "dwarf" : "fp";
  collector::Target target;
  target.system_wide = true;  // every target kind: processes that start later are seen too
  auto rec = collector::Recorder::start(target, *options);
  if (!rec && options->call_graph == collector::CallGraphMode::kDwarf &&
      rec.error().code() == ErrorCode::kUnsupported) {
    spdlog::warn("msg=\"DWARF unwinding is not available; using frame pointers\" reason={}",
                 lf(rec.error().message()));
    options->call_graph = collector::CallGraphMode::kFramePointer;
    call_graph = "fp";
    rec = collector::Recorder::start(target, *options);
  }
  if (!rec) return std::unexpected(rec.error());
  return std::move(*rec);
}

void CollectorLoop::flush(collector::Recorder& rec) {
  profile::RawProfile part = rec.take_profile();
  const auto& t = part.totals();
  if (part.total_samples() > 0 || part.dropped_samples() > 0 || t.blocked_ns + t.runnable_ns > 0) {
    live_.add(part);
  }
}

void CollectorLoop::publish(const collector::Recorder& rec) {
  std::lock_guard lock(mutex_);
  status_.stats = combined(retired_, rec.stats());
  status_.event = rec.event_name();
  status_.frequency_hz = rec.frequency_hz();
  status_.call_graph = call_graph_;
  status_.off_cpu = rec.off_cpu_counters().has_value();
  status_.running = true;
}

void CollectorLoop::retire(collector::Recorder& rec) {
  rec.stop();
  flush(rec);
  std::lock_guard lock(mutex_);
  retired_ += rec.stats().counters();
  status_.stats = combined(retired_, {});
}

void CollectorLoop::run() {
  auto last_flush = std::chrono::steady_clock::now();
  uint64_t poll_errors = 0;
  while (!stop_) {
    std::shared_ptr<Request> request;
    {
      std::lock_guard lock(mutex_);
      request = std::exchange(request_, nullptr);
    }
    if (request) {
      // Every exception ends here: this thread must answer the waiting caller.
      Result<void> answer;
      try {
        std::string call_graph;
        auto rec = open(request->settings, call_graph);
        if (!rec) {
          answer = std::unexpected(rec.error());
        } else {
          if (recorder_) {
            retire(*recorder_);
            std::lock_guard lock(mutex_);
            status_.restarts++;
          }
          recorder_ = std::move(*rec);
          {
            std::lock_guard lock(mutex_);
            call_graph_ = call_graph;
            status_.targets = describe_targets(request->settings.targets);
          }
          live_.set_max_unique_stacks(request->settings.profiling.max_unique_stacks);
          spdlog::info("msg=sampling event={} frequency_hz={} call_graph={} targets={}{}",
                       lf(recorder_->event_name()), recorder_->frequency_hz(), call_graph,
                       lf(describe_targets(request->settings.targets)),
                       recorder_->event_note().empty() ? std::string()
                                                       : " note=" + lf(recorder_->event_note()));
          publish(*recorder_);
        }
      } catch (const std::exception& e) {
        answer = make_error(ErrorCode::kInternal, std::string("starting the collector: ") + e.what());
      }
      std::lock_guard lock(mutex_);
      request->answer = std::move(answer);
      cv_.notify_all();
    }
    if (!recorder_) {
      // Only before the first Recorder started (start() then reports the failure).
      std::unique_lock lock(mutex_);
      cv_.wait_for(lock, kPollTimeout, [&] { return stop_ || request_ != nullptr; });
      continue;
    }
    auto more = recorder_->poll(kPollTimeout);
    if (!more) {
      // The events are broken; say so (rarely) and keep what was collected.
      if (poll_errors++ % 100 == 0) spdlog::error("msg=\"sampling failed\" error={}", lf(more.error().message()));
      std::this_thread::sleep_for(kPollTimeout);
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_flush >= kFlushEvery) {
      flush(*recorder_);
      publish(*recorder_);
      last_flush = now;
    }
  }
  if (recorder_) {
    recorder_->stop();
    flush(*recorder_);
    publish(*recorder_);
    recorder_.reset();
  }
  std::lock_guard lock(mutex_);
  status_.running = false;
  if (request_ && !request_->answer) request_->answer = make_error(ErrorCode::kInterrupted, "the collector stopped");
  cv_.notify_all();
}

}  // namespace ember::daemon
