// `ember trend`: a history of recordings (CI artifacts), each function's share per run, and which
// ones drift.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/trend.h"
#include "analysis/units.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "cli/run_history.h"
#include "common/regex.h"
#include "flamegraph/line_chart.h"

namespace ember::cli {

namespace {


struct TrendArgs {
  std::vector<std::string> inputs;
  size_t top = 10;
  std::optional<std::string> function;
  GateArgs gate;
  bool fail_on_drift = false;
  std::optional<std::string> markdown;
  std::optional<std::string> json;
  std::optional<std::string> chart;
  bool quiet = false;
  Limits limits;
};

flamegraph::LineChart trend_chart(const analysis::Trend& t, size_t top) {
  flamegraph::LineChart chart;
  chart.title = "ember trend: share of the profile per run";
  chart.subtitle = fmt::format("{} runs · {} · {}", t.runs.size(), t.sample_type,
                               t.drifted() ? "▲ drifting slower" : "no drift slower");
  chart.x_title = "run (oldest first)";
  chart.y_title = "share of the profile";
  chart.format_y = [](double v) { return fmt::format("{:g}%", std::round(v * 1000) / 10); };
  for (size_t i = 0; i < t.runs.size(); ++i) {
    chart.x.push_back(static_cast<double>(i + 1));
    chart.x_labels.push_back(t.runs[i].label);
  }
  for (const analysis::TrendRow* r : analysis::shown_rows(t, top)) {
    if (chart.series.size() == flamegraph::kMaxChartLines) break;
    flamegraph::ChartSeries s;
    s.name = fmt::format("{} ({})", r->name, analysis::to_string(r->kind));
    s.y = r->shares;
    s.emphasized = r->evidence.drift != analysis::DriftKind::kNone;
    for (size_t i = 0; i < r->shares.size(); ++i) {
      std::string text = analysis::format_share(r->shares[i]);
      if (!r->cpu_ns.empty()) text += " · " + analysis::format_value(r->cpu_ns[i], "nanoseconds") + " CPU";
      s.point_texts.push_back(std::move(text));
    }
    chart.series.push_back(std::move(s));
  }
  return chart;
}

int run_trend(const TrendArgs& args) {
  if (args.inputs.empty()) {
    fail("trend needs profiles: files or directories of them");
    return kExitUsage;
  }
  analysis::TrendOptions options;
  auto gate = parse_gate_args(args.gate);
  if (!gate) {
    fail(gate.error().message());
    return kExitUsage;
  }
  options.threshold = gate->threshold;
  options.min_share = gate->min_share;
  options.confidence = gate->confidence;
  options.fixed_workload = gate->fixed_workload;
  options.sample_type = gate->sample_type;
  if (args.function) {
    auto re = common::Regex::compile(*args.function);
    if (!re) {
      fail("--function: " + re.error().message());
      return kExitUsage;
    }
    options.function = std::move(*re);
  }
  for (const auto* path : {&args.markdown, &args.json, &args.chart}) {
    if (*path && !output_writable(**path)) return kExitUsage;
  }

  auto history = load_history(args.inputs, args.limits);
  if (!history) {
    fail(history.error().message());
    return kExitUsage;
  }
  for (const auto& note : history->notes) fail(note);
  std::vector<analysis::TrendInput> inputs;
  for (const auto& r : history->runs) inputs.push_back({{r.path, &r.profile}, r.label});
  auto trend = analysis::trend(inputs, options);
  if (!trend) {
    fail(trend.error().message());
    return kExitUsage;
  }

  int exit_code = kExitOk;
  auto write = [&](const std::string& path, const std::string& text) {
    if (auto ok = write_bounded(path, text, args.limits.max_output_bytes); !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitUsage;  // not 1: that means "drifted" to a CI gate
    }
  };
  if (!args.quiet) write("-", analysis::format_trend_text(*trend, args.top));
  if (args.markdown) write(*args.markdown, analysis::format_trend_markdown(*trend, args.top));
  if (args.json) write(*args.json, analysis::format_trend_json(*trend, args.top) + "\n");
  if (args.chart) write(*args.chart, flamegraph::render_line_chart(trend_chart(*trend, args.top)));
  if (exit_code == kExitOk && args.fail_on_drift && trend->drifted()) exit_code = kExitFailure;
  return exit_code;
}

}  // namespace

void add_trend_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TrendArgs>();
  CLI::App* cmd = app.add_subcommand(
      "trend", "History of runs: each function's share per run, and which ones drift (steadily or at one run)");
  cmd->add_option("profiles", args->inputs,
                  "Profiles (pprof or folded), or directories of them; --metadata JSON beside them is read")
      ->required();
  add_count_option(cmd, "-n,--top", args->top, "Functions shown besides the drifting ones; 0 for all [default: 10]");
  cmd->add_option("--function", args->function,
                  "Only functions whose name matches this regular expression (RE2, e.g. '^bench::')");
  add_gate_options(cmd, args->gate);
  cmd->add_flag("--fail-on-drift", args->fail_on_drift, "Exit with status 1 when something drifts slower");
  cmd->add_option("--markdown", args->markdown, "Also write a Markdown report (job summary, PR comment)");
  cmd->add_option("--json", args->json, "Also write a JSON report");
  cmd->add_option("-o,--output", args->chart, "Also write an SVG line chart of the shares per run");
  cmd->add_flag("-q,--quiet", args->quiet, "No table on stdout");
  add_limit_options(cmd, args->limits);
  cmd->footer(
      "\nRuns are ordered by recording time (the profile's, else its --metadata JSON's), else by file name.\n"
      "A function drifts when its share moves steadily (Mann-Kendall test, Sen's slope) or steps at one run\n"
      "(compare's Welch test between the runs before and after, Bonferroni over the splits), Benjamini-\n"
      "Hochberg adjusted across functions, by at least --threshold. Give 8 runs or more.\n"
      "\nExit status: 0 no drift slower; 1 a drift and --fail-on-drift; 2 bad input.\n"
      "\nExample:\n  ember trend history/ --fail-on-drift --markdown trend.md -o trend.svg");
  cmd->callback([args, &exit_code] { exit_code = run_trend(*args); });
}

}  // namespace ember::cli
