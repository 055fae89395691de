#pragma once
// Options that `ember compare` and `ember trend` share: the same gate, spelled the same way.

#include <cstddef>
#include <optional>
#include <string>

#include "common/error.h"

namespace CLI {
class App;
}

namespace ember::cli {

struct GateArgs {
  std::string threshold = "10%";
  std::string min_share = "0.5%";
  double confidence = 0.99;
  bool variable_workload = false;
  std::optional<std::string> sample_type;
};

// --threshold, --min-share, --confidence, --variable-workload, --sample-type.
void add_gate_options(CLI::App* command, GateArgs& args);

struct GateSettings {
  double threshold = 0;
  double min_share = 0;
  double confidence = 0;
  bool fixed_workload = true;
  std::optional<std::string> sample_type;
};

// Parses the percentages and checks the ranges; errors name the option ("--threshold: ...").
[[nodiscard]] Result<GateSettings> parse_gate_args(const GateArgs& args);

// A count option (--top) that refuses negative numbers, which would wrap to a huge size_t.
void add_count_option(CLI::App* command, const std::string& names, size_t& value, const std::string& help);

}  // namespace ember::cli
