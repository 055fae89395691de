// `ember report` and `ember compare`: the numbers behind a profile, and the regression gate.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "analysis/report.h"
#include "analysis/units.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/files.h"

namespace ember::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> inputs;
  bool json = false;
  size_t top = 20;
  size_t paths = 10;
  std::optional<std::string> sample_type;
  std::string output = "-";
  Limits limits;
};

int run_report(const ReportArgs& args) {
  if (!output_writable(args.output)) return kExitFailure;
  auto profile = load_profiles(args.inputs, args.limits);
  if (!profile) {
    fail(profile.error().message());
    return kExitUsage;
  }
  analysis::ReportOptions options;
  options.sample_type = args.sample_type;
  options.top = args.top;
  options.hot_paths = args.paths;
  auto report = analysis::make_report(*profile, options);
  if (!report) {
    fail(report.error().with_context(args.inputs.front()).message());
    return kExitUsage;
  }
  std::string text = args.json ? analysis::format_report_json(*report) + "\n"
                               : analysis::format_report_text(*report);
  if (auto ok = write_bounded(args.output, text, args.limits.max_output_bytes); !ok) {
    fail("cannot write " + ok.error().message());
    return ok.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

struct CompareArgs {
  std::vector<std::string> positional;
  std::vector<std::string> baseline;
  std::vector<std::string> current;
  GateArgs gate;
  bool fail_on_regression = false;
  std::optional<std::string> markdown;
  std::optional<std::string> json;
  bool all = false;
  bool quiet = false;
  Limits limits;
};

int run_compare(CompareArgs& args) {
  // Two forms: `compare BASE CUR`, or `compare --baseline B... --current C...` for repeated runs.
  if (!args.positional.empty()) {
    if (!args.baseline.empty() || !args.current.empty() || args.positional.size() != 2) {
      fail("give BASELINE CURRENT, or --baseline FILE... --current FILE... (not both)");
      return kExitUsage;
    }
    args.baseline = {args.positional[0]};
    args.current = {args.positional[1]};
  }
  if (args.baseline.empty() || args.current.empty()) {
    fail("compare needs at least one baseline and one current profile");
    return kExitUsage;
  }
  auto gate = parse_gate_args(args.gate);
  if (!gate) {
    fail(gate.error().message());
    return kExitUsage;
  }
  analysis::CompareOptions options;
  options.threshold = gate->threshold;
  options.min_share = gate->min_share;
  options.confidence = gate->confidence;
  options.fixed_workload = gate->fixed_workload;
  options.sample_type = gate->sample_type;
  for (const auto* path : {&args.markdown, &args.json}) {
    if (*path) {
      if (!output_writable(**path)) return kExitUsage;
    }
  }

  // Profiles are loaded first and kept alive: the runs point into them.
  std::vector<profile::Profile> loaded;
  loaded.reserve(args.baseline.size() + args.current.size());
  std::vector<analysis::ProfileRun> baseline, current;
  for (auto* side : {&args.baseline, &args.current}) {
    for (const auto& path : *side) {
      auto p = load_profile(path, args.limits);
      if (!p) {
        fail(p.error().message());
        return kExitUsage;
      }
      loaded.push_back(std::move(*p));
    }
  }
  for (size_t i = 0; i < loaded.size(); ++i) {
    bool is_baseline = i < args.baseline.size();
    const std::string& source = is_baseline ? args.baseline[i] : args.current[i - args.baseline.size()];
    (is_baseline ? baseline : current).push_back(analysis::ProfileRun{source, &loaded[i]});
  }
  auto comparison = analysis::compare(baseline, current, options);
  if (!comparison) {
    fail(comparison.error().message());
    return kExitUsage;
  }
  int exit_code = kExitOk;
  if (!args.quiet) {
    // The table is the answer: a stdout that cannot take it (full disk, closed pipe) fails the
    // run, with 2 as every other failure here: 1 means "regressed" to a CI gate.
    if (auto ok = write_bounded("-", analysis::format_comparison_text(*comparison, args.all),
                                args.limits.max_output_bytes);
        !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitUsage;
    }
  }
  if (args.markdown) {
    if (auto ok = write_bounded(*args.markdown, analysis::format_comparison_markdown(*comparison),
                                args.limits.max_output_bytes);
        !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitUsage;
    }
  }
  if (args.json) {
    if (auto ok = write_bounded(*args.json, analysis::format_comparison_json(*comparison) + "\n",
                                args.limits.max_output_bytes);
        !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitUsage;
    }
  }
  if (exit_code == kExitOk && comparison->regressed() && args.fail_on_regression) {
    exit_code = kExitFailure;
  }
  return exit_code;
}

}  // namespace

void add_report_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "Findings (allocator, locks, syscalls, page faults, copies, GC, hot functions), top functions by self and total, hottest paths");
  add_inputs_option(cmd, args->inputs);
  cmd->add_flag("--json", args->json, "Machine-readable JSON instead of a table");
  add_count_option(cmd, "-n,--top", args->top, "Functions per table; 0 for all [default: 20]");
  add_count_option(cmd, "--paths", args->paths, "Hottest paths to show; 0 for all [default: 10]");
  cmd->add_option("--sample-type", args->sample_type,
                  "Which value of a pprof profile to use, e.g. samples or cpu [default: the pprof default]");
  cmd->add_option("-o,--output", args->output, "Write here instead of stdout");
  add_limit_options(cmd, args->limits);
  cmd->footer(fmt::format(
      "\nSeverity of a function's self share: critical >= {:.0f}%, high >= {:.0f}%, medium >= {:.0f}%, else low.\n"
      "Self and total follow go tool pprof -top (flat and cum).",
      analysis::kCriticalShare * 100, analysis::kHighShare * 100, analysis::kMediumShare * 100));
  cmd->callback([args, &exit_code] { exit_code = run_report(*args); });
}

void add_compare_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Regression gate: which functions got slower between baseline and current, beyond noise");
  cmd->add_option("profiles", args->positional, "BASELINE CURRENT");
  cmd->add_option("-b,--baseline", args->baseline, "Baseline profiles (repeated runs)")->expected(1, -1);
  cmd->add_option("-c,--current", args->current, "Current profiles (repeated runs)")->expected(1, -1);
  add_gate_options(cmd, args->gate);
  cmd->add_flag("--fail-on-regression", args->fail_on_regression, "Exit with status 1 when something regressed");
  cmd->add_option("--markdown", args->markdown, "Also write a Markdown report (for a pull-request comment)");
  cmd->add_option("--json", args->json, "Also write a JSON report");
  cmd->add_flag("--all", args->all, "List unchanged functions too");
  cmd->add_flag("-q,--quiet", args->quiet, "No table on stdout");
  add_limit_options(cmd, args->limits);
  cmd->footer(
      "\nA function regresses when its share of the profile rose by at least --threshold, it has at least\n"
      "--min-share on one side, and the rise is beyond the run-to-run spread: Welch's t-test on per-run shares\n"
      "with several runs per side, a two-proportion z-test on sample counts with one, Benjamini-Hochberg\n"
      "adjusted across functions. Give several runs per side (5 is a good number) to measure the noise.\n"
      "\nExit status: 0 nothing regressed; 1 something regressed and --fail-on-regression was given;\n"
      "2 bad input.\n"
      "\nExample:\n  ember compare baseline.pb.gz current.pb.gz --threshold 10% --fail-on-regression \\\n"
      "      --markdown report.md --json report.json");
  cmd->callback([args, &exit_code] { exit_code = run_compare(*args); });
}

}  // namespace ember::cli
