#include "cli/analysis_options.h"

#include <CLI/CLI.hpp>

#include "analysis/compare.h"
#include "analysis/units.h"

namespace ember::cli {

void add_gate_options(CLI::App* cmd, GateArgs& args) {
  cmd->add_option("--threshold", args.threshold,
                  "Smallest relative change of a share that counts, e.g. 10% or 0.1 [default: 10%]");
  cmd->add_option("--min-share", args.min_share,
                  "Ignore functions below this share of the profile [default: 0.5%]");
  cmd->add_option("--confidence", args.confidence,
                  "Confidence that a change is beyond run-to-run noise [default: 0.99]");
  cmd->add_flag("--variable-workload", args.variable_workload,
                "The runs did not do the same work (e.g. daemon windows): compare shares only");
  cmd->add_option("--sample-type", args.sample_type, "Which value to compare [default: the pprof default]");
}

Result<GateSettings> parse_gate_args(const GateArgs& args) {
  auto threshold = analysis::parse_percentage(args.threshold);
  if (!threshold) return std::unexpected(threshold.error().with_context("--threshold"));
  auto min_share = analysis::parse_percentage(args.min_share);
  if (!min_share) return std::unexpected(min_share.error().with_context("--min-share"));
  analysis::CompareOptions check;
  check.threshold = *threshold;
  check.min_share = *min_share;
  check.confidence = args.confidence;
  if (auto ok = analysis::validate(check); !ok) return std::unexpected(ok.error());
  return GateSettings{*threshold, *min_share, args.confidence, !args.variable_workload, args.sample_type};
}

void add_count_option(CLI::App* cmd, const std::string& names, size_t& value, const std::string& help) {
  // Checked as text: "-5" would otherwise wrap to a huge size_t and mean "all".
  const CLI::Validator not_negative(
      [](std::string& text) { return text.starts_with('-') ? "must be 0 or more, not " + text : std::string(); },
      "COUNT");
  cmd->add_option(names, value, help)->check(not_negative);
}

}  // namespace ember::cli
