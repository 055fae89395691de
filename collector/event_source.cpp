#include "collector/event_source.h"

#include <fmt/format.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "collector/procfs.h"

namespace ember::collector {

namespace {

uint64_t sample_type_for(const EventSpec& spec) {
  uint64_t t = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
               PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
  if (spec.needs.regs_user_mask != 0) t |= PERF_SAMPLE_REGS_USER;
  if (spec.needs.stack_user_bytes != 0) t |= PERF_SAMPLE_STACK_USER;
  return t;
}

perf_event_attr make_attr(const EventSpec& spec) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  if (spec.hardware_cycles) {
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_CPU_CYCLES;
  } else {
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
  }
  attr.freq = 1;
  attr.sample_freq = spec.frequency_hz;
  attr.sample_type = sample_type_for(spec);
  attr.sample_id_all = 1;
  // read() gives the time the event has been enabled: frozen once its CPU went offline, which
  // removes a whole-system event for good (recorder_hotplug.cpp).
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED;
  attr.disabled = spec.start_disabled ? 1 : 0;
  attr.inherit = spec.inherit ? 1 : 0;
  attr.enable_on_exec = spec.enable_on_exec ? 1 : 0;
  if (spec.context_switches) {
    // A sample at every switch-out, taken in the leaving task (its kernel stack is at schedule()
    // and its user registers are those saved at kernel entry), plus SWITCH records in and out.
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CONTEXT_SWITCHES;
    attr.freq = 0;
    attr.sample_period = 1;
    attr.context_switch = 1;
  }
  if (spec.dummy) {
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_DUMMY;
    attr.freq = 0;
    attr.sample_period = 0;
  }
  if (spec.side_band) {
    attr.mmap = 1;
    attr.mmap2 = 1;
    attr.comm = 1;
    attr.comm_exec = 1;
    attr.task = 1;
    attr.build_id = spec.build_id ? 1 : 0;
  }
  attr.exclude_hv = 1;
  if (!spec.kernel_frames) {
    attr.exclude_kernel = 1;
    attr.exclude_callchain_kernel = 1;
  }
  if (!spec.needs.user_callchain) attr.exclude_callchain_user = 1;
  attr.sample_regs_user = spec.needs.regs_user_mask;
  attr.sample_stack_user = spec.needs.stack_user_bytes;
  attr.sample_max_stack = spec.max_stack;
  // CLOCK_MONOTONIC so record times compare with ember's own clock (reordering, windows).
  attr.use_clockid = 1;
  attr.clockid = CLOCK_MONOTONIC;
  if (spec.wakeup_bytes != 0) {
    attr.watermark = 1;
    attr.wakeup_watermark = spec.wakeup_bytes;
  } else {
    attr.wakeup_events = 1;
  }
  return attr;
}

bool no_such_event(int err) { return err == ENOENT || err == ENODEV || err == EOPNOTSUPP; }

}  // namespace

SampleFormat EventSpec::sample_format() const {
  SampleFormat f;
  f.sample_type = sample_type_for(*this);
  f.regs_user_mask = needs.regs_user_mask;
  f.sample_id_all = true;
  return f;
}

std::expected<common::UniqueFd, int> open_event(const EventSpec& spec, pid_t pid, int cpu) {
  perf_event_attr attr = make_attr(spec);
  for (;;) {
    long fd = ::syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0) return common::UniqueFd(static_cast<int>(fd));
    if (errno == EINTR) continue;
    return std::unexpected(errno);
  }
}

std::expected<common::UniqueFd, int> negotiate_event(EventSpec& spec, pid_t pid, int cpu,
                                                     std::vector<std::string>& warnings,
                                                     std::string& event_note) {
  const uint32_t asked_hz = spec.frequency_hz;
  int last_error = 0;
  // Each round removes one reason for refusal; there are only a few, so this ends.
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto fd = open_event(spec, pid, cpu);
    if (fd) {
      if (spec.hardware_cycles && event_note.empty()) {
        event_note = "hardware cycles event";
      }
      return fd;
    }
    last_error = fd.error();
    if (spec.hardware_cycles && no_such_event(last_error)) {
      spec.hardware_cycles = false;
      event_note = "no hardware cycles event on this machine (no PMU, as in most virtual machines); "
                   "sampling the cpu-clock software timer";
      continue;
    }
    if (last_error == EINVAL) {
      // The kernel lowers perf_event_max_sample_rate on its own when sampling takes too long.
      uint32_t max_rate = max_sample_rate();
      if (spec.frequency_hz > max_rate) {
        spec.frequency_hz = max_rate;
        warnings.push_back(fmt::format(
            "sampling frequency lowered from {} Hz to {} Hz (kernel.perf_event_max_sample_rate)",
            asked_hz, max_rate));
        continue;
      }
      if (spec.build_id) {
        spec.build_id = false;  // Linux before 5.12: build-ids are read from the files instead
        continue;
      }
      if (spec.max_stack > 127) {
        spec.max_stack = 127;
        continue;
      }
      if (spec.hardware_cycles) {
        spec.hardware_cycles = false;
        event_note = "the hardware cycles event cannot sample here; sampling the cpu-clock software timer";
        continue;
      }
    }
    if ((last_error == EACCES || last_error == EPERM) && spec.kernel_frames) {
      spec.kernel_frames = false;
      auto paranoid = perf_event_paranoid();
      warnings.push_back(fmt::format(
          "kernel frames are not permitted (kernel.perf_event_paranoid is {}, and ember lacks "
          "CAP_PERFMON): recording user-space frames only",
          paranoid ? std::to_string(*paranoid) : std::string("unknown")));
      continue;
    }
    break;
  }
  return std::unexpected(last_error);
}

Result<void> redirect_output(const common::UniqueFd& fd, const common::UniqueFd& ring_fd) {
  if (::ioctl(fd.get(), PERF_EVENT_IOC_SET_OUTPUT, ring_fd.get()) != 0) {
    return errno_error("PERF_EVENT_IOC_SET_OUTPUT");
  }
  return {};
}

Result<void> enable_event(const common::UniqueFd& fd) {
  if (::ioctl(fd.get(), PERF_EVENT_IOC_ENABLE, 0) != 0) return errno_error("PERF_EVENT_IOC_ENABLE");
  return {};
}

void disable_event(const common::UniqueFd& fd) { ::ioctl(fd.get(), PERF_EVENT_IOC_DISABLE, 0); }

std::optional<uint64_t> event_id(const common::UniqueFd& fd) {
  uint64_t id = 0;
  if (::ioctl(fd.get(), PERF_EVENT_IOC_ID, &id) != 0) return std::nullopt;
  return id;
}

std::optional<uint64_t> event_enabled_ns(const common::UniqueFd& fd) {
  uint64_t values[2] = {};  // the count, then time_enabled (read_format)
  if (::read(fd.get(), values, sizeof values) != static_cast<ssize_t>(sizeof values)) return std::nullopt;
  return values[1];
}

std::optional<int64_t> perf_event_paranoid() {
  return read_sysctl_int("/proc/sys/kernel/perf_event_paranoid");
}

uint32_t max_sample_rate() {
  auto v = read_sysctl_int("/proc/sys/kernel/perf_event_max_sample_rate");
  if (!v || *v <= 0) return 100000;
  return static_cast<uint32_t>(std::min<int64_t>(*v, UINT32_MAX));
}

uint16_t max_stack_depth() {
  auto v = read_sysctl_int("/proc/sys/kernel/perf_event_max_stack");
  if (!v || *v <= 0) return 127;
  return static_cast<uint16_t>(std::min<int64_t>(*v, UINT16_MAX));
}

}  // namespace ember::collector
