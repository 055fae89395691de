// CPU hotplug under a whole-system recording: a CPU that goes offline and comes back is sampled
// again (the kernel drops CPU-wide events when their CPU goes offline, for good). Needs root, a
// second CPU that can be taken offline, and runs alone (it takes a CPU from the machine).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "collector/recorder.h"
#include "tests/support/process.h"

namespace ember::collector {
namespace {

using namespace std::chrono_literals;

const std::string kCpu1 = "/sys/devices/system/cpu/cpu1/online";

bool set_cpu1_online(bool online) {
  std::ofstream f(kCpu1);
  f << (online ? "1" : "0");
  f.flush();
  return f.good();
}

// Whatever the test does, CPU 1 is online again when it ends.
struct Cpu1BackOnline {
  ~Cpu1BackOnline() { set_cpu1_online(true); }
};

void poll_for(Recorder& rec, std::chrono::milliseconds how_long) {
  auto end = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < end) {
    auto more = rec.poll(50ms);
    ASSERT_TRUE(more.has_value()) << more.error().message();
  }
}

TEST(CpuHotplug, ACpuThatWentOfflineAndCameBackIsSampledAgain) {
  if (::geteuid() != 0 || ::access(kCpu1.c_str(), W_OK) != 0 || ::sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    GTEST_SKIP() << "needs root and a second CPU that can go offline (" << kCpu1 << ")";
  }
  RecordOptions options;
  options.call_graph = CallGraphMode::kFramePointer;
  options.python.enabled = false;
  options.process_filter = [](const ProcessInfo& info) { return info.comm == "seventy_thirty"; };
  Target target;
  target.system_wide = true;
  auto rec = Recorder::start(target, options);
  ASSERT_TRUE(rec.has_value()) << rec.error().message();
  Cpu1BackOnline guard;
  poll_for(**rec, 1200ms);  // the first look at each CPU's event
  ASSERT_TRUE(set_cpu1_online(false));
  poll_for(**rec, 1500ms);
  ASSERT_TRUE(set_cpu1_online(true));
  poll_for(**rec, 2500ms);  // the next looks find CPU 1's event dead and open it again
  EXPECT_EQ((*rec)->stats().cpu_events_reopened, 1u);

  // A program that can only run on CPU 1: every one of its samples comes through the new event.
  ember::testing::Background pinned({"/usr/bin/taskset", "-c", "1", EMBER_WORKLOAD_SEVENTY_THIRTY, "--seconds", "60"});
  ASSERT_EQ(pinned.read_line(30s), "ready");
  const uint64_t before = (*rec)->stats().samples;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && (*rec)->stats().samples < before + 500) {
    auto more = (*rec)->poll(100ms);
    ASSERT_TRUE(more.has_value()) << more.error().message();
  }
  (*rec)->stop();
  EXPECT_GE((*rec)->stats().samples, before + 500)
      << "CPU 1 was not sampled after it came back: " << (*rec)->stats().samples - before << " samples";
  EXPECT_EQ((*rec)->stats().cpu_events_reopened, 1u);
}

}  // namespace
}  // namespace ember::collector
