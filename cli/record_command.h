#pragma once
// `ember record`'s options and its one recording, shared with `ember scale`, which records the same
// way once per input size.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/io.h"
#include "collector/recorder.h"

namespace CLI {
class App;
}

namespace ember::cli {

struct RecordArgs {
  std::string pids;
  bool all = false;
  std::vector<std::string> outputs;
  std::optional<std::string> format;
  uint32_t frequency = collector::kDefaultFrequencyHz;
  double duration = 0;
  std::string call_graph = "dwarf";
  uint32_t stack_size = 32768;
  bool no_kernel = false;
  bool no_python = false;
  std::string python_reads = "auto";
  std::string sampling = "auto";
  bool per_pid = false;
  bool per_thread = false;
  bool full_names = false;
  bool no_inline = false;
  bool no_debuginfod = false;
  std::optional<std::string> title;
  double min_width = 0.1;
  int width = 1200;
  std::optional<std::string> metadata;
  bool quiet = false;
  bool off_cpu = false;
  double off_cpu_threshold_us = static_cast<double>(collector::kDefaultOffCpuThresholdNs) / 1000;
  std::optional<std::string> sample_type;
  Limits limits;
  std::vector<std::string> command;
  // Quiet about a failing command too (scale names the size itself).
  bool quiet_command_status = false;
};

// How to sample: -F, --call-graph, --stack-size, --no-kernel, --no-python, --full-names,
// --no-inline, --off-cpu, --off-cpu-threshold (everything but what and where to write).
void add_sampling_options(CLI::App* command, RecordArgs& args);

// Records as `ember record` does and returns its exit status: 0, the launched command's status
// when it failed, 1 when ember could not record, 2 on bad arguments.
int run_record(RecordArgs& args);

}  // namespace ember::cli
