// Measures the collector under load: busy worker processes on every CPU (a deep call chain,
// so stacks are realistic), the Recorder in system-wide mode (-a) at increasing frequencies.
// For each frequency it prints the samples recorded per second, the samples the kernel lost,
// and ember's own CPU time (getrusage around the polling loop) per sample.
//
//   ember_collector_bench [--seconds N] [--workers W] [--frequencies F1,F2,...]

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "collector/recorder.h"

namespace {

using namespace std::chrono_literals;

volatile uint64_t g_sink;

// A chain of distinct frames down to a spinning leaf: the unwinder and the stack table do
// real work per sample.
[[gnu::noinline]] uint64_t spin_leaf(uint64_t x) {
  for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005ull + 1;
  return x;
}
[[gnu::noinline]] uint64_t descend(int depth, uint64_t x) {
  if (depth == 0) return spin_leaf(x);
  uint64_t r = descend(depth - 1, x + static_cast<uint64_t>(depth));
  g_sink = r;
  return r;
}

[[noreturn]] void worker(int id) {
  uint64_t x = static_cast<uint64_t>(id);
  for (;;) {
    for (int d = 8; d < 24; ++d) x = descend(d, x);
  }
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

std::vector<uint32_t> parse_list(const char* s) {
  std::vector<uint32_t> out;
  for (const char* p = s; *p != '\0';) {
    char* end = nullptr;
    out.push_back(static_cast<uint32_t>(std::strtoul(p, &end, 10)));
    if (end == p) break;
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  long workers = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<uint32_t> frequencies = {999, 4999, 9999, 19999, 49999, 99999};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (opt == "--workers") {
      workers = std::atol(argv[i + 1]);
    } else if (opt == "--frequencies") {
      frequencies = parse_list(argv[i + 1]);
    } else {
      fmt::print(stderr, "usage: {} [--seconds N] [--workers W] [--frequencies F1,F2,...]\n", argv[0]);
      return 2;
    }
  }

  std::vector<pid_t> children;
  for (long w = 0; w < workers; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) worker(static_cast<int>(w));
    children.push_back(pid);
  }

  fmt::print("{:>9} {:>10} {:>10} {:>9} {:>8} {:>12} {:>12} {:>9}\n", "freq_hz", "samples", "samples/s",
             "lost", "lost_%", "ember_cpu_s", "cpu_us/smpl", "stacks");
  int status = 0;
  for (uint32_t hz : frequencies) {
    ember::collector::Target target;
    target.system_wide = true;
    ember::collector::RecordOptions options;
    options.frequency_hz = hz;
    // The figures in README.md are for frame pointers; DWARF (now the default) has its own
    // benchmark in bench/unwind.
    options.call_graph = ember::collector::CallGraphMode::kFramePointer;
    auto rec = ember::collector::Recorder::start(target, options);
    if (!rec) {
      fmt::print(stderr, "ember_collector_bench: {}\n", rec.error().message());
      status = 1;
      break;
    }
    const double cpu_before = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      auto more = (*rec)->poll(100ms);
      if (!more || !*more) break;
    }
    (*rec)->stop();
    ember::profile::RawProfile p = (*rec)->take_profile();
    const double cpu = cpu_seconds() - cpu_before;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& st = (*rec)->stats();
    const double total = static_cast<double>(st.samples + st.lost_samples);
    fmt::print("{:>9} {:>10} {:>10.0f} {:>9} {:>8.2f} {:>12.3f} {:>12.2f} {:>9}\n", (*rec)->frequency_hz(),
               st.samples, static_cast<double>(st.samples) / wall, st.lost_samples,
               total > 0 ? 100.0 * static_cast<double>(st.lost_samples) / total : 0.0, cpu,
               st.samples > 0 ? cpu * 1e6 / static_cast<double>(st.samples) : 0.0, p.unique_stacks());
    if (st.malformed_records != 0 || st.throttle_events != 0) {
      fmt::print("          malformed records {}, throttled {} times\n", st.malformed_records, st.throttle_events);
    }
    if ((*rec)->event_name() != "cycles" && hz == frequencies.front()) {
      fmt::print("          event {}: {}\n", (*rec)->event_name(), (*rec)->event_note());
    }
  }
  for (pid_t pid : children) ::kill(pid, SIGKILL);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  return status;
}
