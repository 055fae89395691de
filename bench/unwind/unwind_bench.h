#pragma once
// What the modes of ember_unwind_bench share: processes, statistics, perf and ember runs.

#include <sys/types.h>

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "collector/collector_stats.h"
#include "collector/recorder.h"
#include "profile/raw_profile.h"

namespace unwind_bench {

struct Args {
  std::string mode;
  double seconds = 10;
  uint32_t frequency = 999;
  uint32_t stack_size = 32768;
  int rounds = 5;
  size_t size_mb = 200;
  std::string input_dir = "/tmp";
  bool ember_only = false;  // cost: the replays alone (for profiling the unwinder)
  int passes = 2;           // cost: replays of the captured samples
  std::vector<std::string> rest;  // timeit: OUT -- COMMAND...
};

// C++ allocations made by this process so far (operator new is counted in unwind_bench.cpp).
uint64_t allocations();

double now_seconds();
double self_cpu_seconds();

// Starts argv with stdout to `out` ("" for /dev/null) and stderr to /dev/null unless `show_errors`.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out = "", bool show_errors = false,
            int stdout_fd = -1);
struct Exit {
  int status = 0;
  double cpu_seconds = 0;  // the child's user + system time
};
Exit wait_child(pid_t pid);
// Runs argv, returning its stdout and CPU time.
std::pair<std::string, Exit> run_capture(const std::vector<std::string>& argv);

// The workload's input, made once: a semi-random text of `megabytes`.
std::string ensure_input(const std::string& path, size_t megabytes);
std::vector<std::string> xz_command(const std::string& input);

struct Summary {
  double median = 0, p90 = 0, p99 = 0, mean = 0;
};
Summary summarize(std::vector<double> v);
double median(std::vector<double> v);
std::string load_average();

struct PerfRun {
  std::string data;
  double record_cpu = 0;
  bool ok = false;
};
// perf record --call-graph dwarf[,size] -F f for `seconds` (0: until it ends), on a command it launches.
PerfRun perf_record(const std::vector<std::string>& command, uint32_t stack_size, uint32_t frequency,
                    double seconds, const std::string& data);
// Should perf still abort reading a recording (see perf_record), the run is made again.
constexpr int kPerfAttempts = 5;
bool perf_exited_normally(std::initializer_list<Exit> exits);
struct PerfSample {
  std::string comm;
  std::vector<std::string> symbols;
};
std::vector<PerfSample> parse_perf_script(const std::string& text);

// Records a command with the Recorder until it ends or `seconds` pass; ember's own CPU time.
struct EmberRun {
  ember::profile::RawProfile raw;
  ember::collector::CollectorStats stats;
  double cpu_seconds = 0;
  int32_t pid = 0;
  // From a few seconds in to the end, before stopping: no start-up or wind-down.
  double steady_cpu_seconds = 0;
  uint64_t steady_samples = 0;
  uint64_t steady_allocations = 0;  // C++ allocations
};
EmberRun ember_record(const std::vector<std::string>& command, ember::collector::RecordOptions options, double seconds);
// The command through `sh -c exec ... > /dev/null` (same pid, output discarded).
std::vector<std::string> shell_quiet(const std::vector<std::string>& command);

int cost(const Args& a);

}  // namespace unwind_bench
