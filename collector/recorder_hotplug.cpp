// CPU hotplug for recordings with per-CPU sampling events (-a, emberd, and -p or a command
// sampled per CPU). When a CPU goes offline the kernel takes its CPU-wide events out for good:
// they do not come back with the CPU, and without this a CPU that was offline for a moment would
// go unsampled for the rest of the recording (per-task events survive hotplug and need nothing).
// Once a second each CPU's sampling event is asked how long it has been enabled; one whose time
// stopped advancing is dead, and its CPU, when online, gets new events writing into the same
// rings. CPUs that came online since the start get events and rings of their own (with per-CPU
// sampling of chosen processes, their threads have no side-band or switch events there: as
// with per-thread sampling, those CPUs' records of them are not seen).

#include <sys/epoll.h>

#include <algorithm>

#include "collector/event_source.h"
#include "collector/procfs.h"
#include "collector/recorder_impl.h"

namespace ember::collector {

namespace {
constexpr uint64_t kCpuCheckNs = 1'000'000'000;
}  // namespace

void Recorder::Impl::check_cpus(uint64_t now) {
  if (cpu_event_.empty() || now < next_cpu_check_) return;
  next_cpu_check_ = now + kCpuCheckNs;
  auto online = online_cpus();
  if (!online) return;
  for (int cpu : *online) {
    auto known = std::find(cpus_.begin(), cpus_.end(), cpu);
    size_t c = static_cast<size_t>(known - cpus_.begin());
    if (known == cpus_.end()) {
      cpus_.push_back(cpu);
      rings_.resize(cpus_.size());
      ring_owner_.resize(cpus_.size());
      switch_rings_.resize(cpus_.size());
      switch_ring_owner_.resize(cpus_.size());
      cpu_event_.push_back(SIZE_MAX);
      cpu_enabled_ns_.push_back(0);
    } else if (cpu_event_[c] != SIZE_MAX) {
      auto enabled = event_enabled_ns(events_[cpu_event_[c]].fd);
      // Alive: its enabled time moved on since the last look (the first look only notes it).
      if (!enabled || *enabled != cpu_enabled_ns_[c] || cpu_enabled_ns_[c] == 0) {
        if (enabled) cpu_enabled_ns_[c] = *enabled;
        continue;
      }
    }
    const size_t first_new = events_.size();
    if (auto r = open_cpu(c); !r) continue;  // offline again already, or refused: next second
    for (size_t i = first_new; i < events_.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, events_[i].fd.get(), &ev);
      (void)enable_event(events_[i].fd);  // -a opens them disabled; one that fails is dead next check
    }
    stats_.cpu_events_reopened++;
  }
}

}  // namespace ember::collector
