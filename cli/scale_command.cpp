// `ember scale`: record a command at several input sizes and fit how each function's CPU time
// grows with the size.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "analysis/growth.h"
#include "analysis/units.h"
#include "cli/analysis_options.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "cli/record_command.h"
#include "cli/run_history.h"
#include "cli/stop_signal.h"
#include "common/files.h"
#include "common/regex.h"
#include "flamegraph/line_chart.h"

namespace ember::cli {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxSizes = 1000;
constexpr size_t kMaxRepeat = 1000;

struct ScaleArgs {
  RecordArgs record;
  std::string sizes;
  size_t repeat = 1;
  std::string output_dir = "ember-scale";
  std::optional<std::string> chart;
  std::optional<std::string> markdown;
  std::optional<std::string> json;
  std::optional<std::string> function;
  std::optional<std::string> sample_type;
  std::string min_share = "0.5%";
  double confidence = 0.95;
  double flag_above = 1.2;
  size_t top = 20;
  bool quiet = false;
};

struct Size {
  std::string text;  // as the user wrote it: what replaces {}
  double value = 0;
};

Result<std::vector<Size>> parse_sizes(const std::string& text) {
  std::vector<Size> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || !(v > 0)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--sizes: '{}' is not a size (positive numbers, e.g. 1000,10000,100000)", item));
    }
    out.push_back({item, v});
    if (out.size() > kMaxSizes) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("--sizes: more than {} sizes", kMaxSizes));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> substitute(const std::vector<std::string>& command, const std::string& size) {
  std::vector<std::string> out;
  for (std::string arg : command) {
    for (size_t at = arg.find("{}"); at != std::string::npos; at = arg.find("{}", at + size.size())) {
      arg.replace(at, 2, size);
    }
    out.push_back(std::move(arg));
  }
  return out;
}

// What `ember record --metadata` said about the launched command, when it got that far.
std::optional<nlohmann::json> read_metadata(const std::string& path) {
  auto text = common::read_file(path, kMaxMetadataBytes);
  if (!text) return std::nullopt;
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

flamegraph::LineChart growth_chart(const analysis::Growth& g, size_t top) {
  flamegraph::LineChart chart;
  chart.title = "ember scale: cost per function against the input size (log-log)";
  chart.subtitle = fmt::format("{} · dashed: fitted c·size^k · whole profile exponent {:.2f}", g.sample_type,
                               g.whole.fit.exponent);
  chart.x_title = "size";
  chart.y_title = g.unit == "nanoseconds" ? "CPU time" : g.sample_type;
  chart.log_x = chart.log_y = true;
  std::string unit = g.unit;
  chart.format_y = [unit](double v) { return analysis::format_value(v, unit); };
  std::map<double, std::vector<size_t>> by_size;  // size → inputs
  for (size_t i = 0; i < g.sizes.size(); ++i) by_size[g.sizes[i]].push_back(i);
  for (const auto& [size, _] : by_size) {
    chart.x.push_back(size);
    chart.x_labels.push_back(fmt::format("{:g}", size));
  }
  size_t shown = 0;
  for (const auto& r : g.functions) {
    if (chart.series.size() == flamegraph::kMaxChartLines || (top != 0 && shown++ >= top)) break;
    flamegraph::ChartSeries s;
    s.name = fmt::format("{} ({}) k={:.2f}", r.name, analysis::to_string(r.kind), r.fit.exponent);
    s.emphasized = r.flagged;
    if (r.fit.fitted) s.power_law = std::pair{r.fit.coefficient, r.fit.exponent};
    for (const auto& [size, inputs] : by_size) {
      double sum = 0;
      size_t n = 0;
      for (size_t i : inputs) {
        if (r.values[i] > 0) {
          sum += r.values[i];
          ++n;
        }
      }
      double mean = n ? sum / static_cast<double>(n) : NAN;
      s.y.push_back(mean);
      s.point_texts.push_back(n ? analysis::format_value(mean, g.unit) + (n > 1 ? fmt::format(" (mean of {})", n) : "")
                                : "no samples");
    }
    chart.series.push_back(std::move(s));
  }
  return chart;
}

int run_scale(ScaleArgs& args) {
  auto sizes = parse_sizes(args.sizes);
  if (!sizes) {
    fail(sizes.error().message());
    return kExitUsage;
  }
  const std::vector<std::string> command = args.record.command;
  if (command.empty()) {
    fail("scale needs a command after --, with {} where the size goes (ember scale --sizes 1000,10000 -- ./bench --n {})");
    return kExitUsage;
  }
  bool has_placeholder = false;
  for (const auto& a : command) has_placeholder |= a.find("{}") != std::string::npos;
  if (!has_placeholder) {
    fail("the command has no {} to replace with the size (e.g. -- ./bench --n {})");
    return kExitUsage;
  }
  if (args.repeat < 1 || args.repeat > kMaxRepeat) {
    fail(fmt::format("--repeat must be 1 to {}", kMaxRepeat));
    return kExitUsage;
  }
  analysis::GrowthOptions options;
  options.confidence = args.confidence;
  options.flag_above = args.flag_above;
  options.sample_type = args.sample_type;
  auto min_share = analysis::parse_percentage(args.min_share);
  if (!min_share) {
    fail("--min-share: " + min_share.error().message());
    return kExitUsage;
  }
  options.min_share = *min_share;
  if (!(args.confidence > 0 && args.confidence < 1)) {
    fail(fmt::format("--confidence must be above 0 and below 1, not {}", args.confidence));
    return kExitUsage;
  }
  if (args.function) {
    auto re = common::Regex::compile(*args.function);
    if (!re) {
      fail("--function: " + re.error().message());
      return kExitUsage;
    }
    options.function = std::move(*re);
  }
  std::error_code ec;
  fs::create_directories(args.output_dir, ec);
  if (ec) {
    fail(fmt::format("cannot create {}: {}", args.output_dir, ec.message()));
    return kExitFailure;
  }
  for (const auto* path : {&args.markdown, &args.json, &args.chart}) {
    if (*path && !output_writable(**path)) return kExitUsage;
  }

  // Record every size, keeping whatever was recorded even when a size fails.
  struct Recorded {
    Size size;
    std::string path;
  };
  std::vector<Recorded> recorded;
  int exit_code = kExitOk;
  for (const Size& size : *sizes) {
    for (size_t rep = 0; rep < args.repeat && !stop_requested(); ++rep) {
      std::string stem = args.repeat == 1 ? fmt::format("size-{}", size.text)
                                          : fmt::format("size-{}-run-{}", size.text, rep + 1);
      RecordArgs one = args.record;
      one.command = substitute(command, size.text);
      one.outputs = {(fs::path(args.output_dir) / (stem + ".pb.gz")).string()};
      one.metadata = (fs::path(args.output_dir) / (stem + ".json")).string();
      one.quiet = true;
      one.quiet_command_status = true;
      if (!args.quiet) {
        fmt::print(stderr, "ember: size {}{}: recording\n", size.text,
                   args.repeat > 1 ? fmt::format(" (run {} of {})", rep + 1, args.repeat) : "");
      }
      int rc = run_record(one);
      auto meta = read_metadata(*one.metadata);
      bool command_ran = meta && meta->contains("command_status");
      if (rc == kExitOk) {
        recorded.push_back({size, one.outputs.front()});
        continue;
      }
      if (!command_ran) {
        // ember itself could not record (permissions, a bad option): every size would fail alike.
        fail(fmt::format("size {}: could not record; stopping", size.text));
        return rc == kExitUsage ? kExitUsage : kExitFailure;
      }
      fail(fmt::format("size {}: command {}; its recording ({}) is kept but left out of the fit", size.text,
                       (*meta)["command_status"].get<std::string>(), one.outputs.front()));
      exit_code = kExitFailure;
    }
  }
  if (stop_requested()) fail("interrupted: fitting the sizes recorded so far");

  std::vector<profile::Profile> profiles;
  profiles.reserve(recorded.size());
  std::vector<analysis::GrowthInput> inputs;
  for (const auto& r : recorded) {
    auto p = load_profile(r.path, args.record.limits);
    if (!p) {
      fail(p.error().message());
      exit_code = kExitFailure;
      continue;
    }
    if (p->samples.empty()) {
      fail(fmt::format("size {}: no samples (the command ran too briefly to be sampled); left out of the fit",
                       r.size.text));
      continue;
    }
    profiles.push_back(std::move(*p));
    inputs.push_back({r.size.value, {r.path, &profiles.back()}});
  }
  if (inputs.empty()) {
    fail("no size was recorded with samples: nothing to fit");
    return kExitFailure;
  }
  auto growth = analysis::fit_growth(inputs, options);
  if (!growth) {
    fail(growth.error().message());
    return kExitUsage;
  }
  auto write = [&](const std::string& path, const std::string& text) {
    if (auto ok = write_bounded(path, text, args.record.limits.max_output_bytes); !ok) {
      fail("cannot write " + ok.error().message());
      exit_code = kExitFailure;
    }
  };
  // The report lives next to the recordings it was fitted from.
  write((fs::path(args.output_dir) / "scale.json").string(), analysis::format_growth_json(*growth) + "\n");
  if (!args.quiet) write("-", analysis::format_growth_text(*growth, args.top));
  if (args.markdown) write(*args.markdown, analysis::format_growth_markdown(*growth, args.top));
  if (args.json) write(*args.json, analysis::format_growth_json(*growth) + "\n");
  if (args.chart) write(*args.chart, flamegraph::render_line_chart(growth_chart(*growth, args.top)));
  return exit_code;
}

}  // namespace

void add_scale_command(CLI::App& app, int& exit_code, std::vector<std::string> command) {
  auto args = std::make_shared<ScaleArgs>();
  args->record.command = std::move(command);
  CLI::App* cmd = app.add_subcommand(
      "scale", "Record a command at several input sizes and fit how each function grows (log-log exponent)");
  cmd->add_option("--sizes", args->sizes, "Input sizes, comma-separated; each replaces {} in the command")
      ->required();
  cmd->add_option("--repeat", args->repeat, "Recordings per size [default: 1]");
  cmd->add_option("--output-dir", args->output_dir,
                  "Where every recording (size-N.pb.gz, its --metadata JSON) and scale.json go [default: ember-scale]");
  cmd->add_option("-o,--output", args->chart, "Also write an SVG log-log chart");
  cmd->add_option("--markdown", args->markdown, "Also write a Markdown report");
  cmd->add_option("--json", args->json, "Also write the JSON report here");
  cmd->add_option("--function", args->function, "Only functions whose name matches this regular expression (RE2)");
  cmd->add_option("--sample-type", args->sample_type, "Which value to fit [default: cpu]");
  cmd->add_option("--min-share", args->min_share,
                  "Leave out functions below this share at every size [default: 0.5%]");
  cmd->add_option("--confidence", args->confidence, "Of the exponent's interval [default: 0.95]");
  cmd->add_option("--flag-above", args->flag_above,
                  "Flag a function when its exponent's interval lies above this [default: 1.2]");
  add_count_option(cmd, "-n,--top", args->top, "Rows shown besides the flagged ones; 0 for all [default: 20]");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress or table");
  add_sampling_options(cmd, args->record);
  add_limit_options(cmd, args->record.limits);
  cmd->footer(
      "\nUsage: ember scale --sizes 1000,10000,100000 [OPTIONS] -- COMMAND ARGS... ({} is the size)\n"
      "\nEach size is recorded as `ember record` would (the sampling options are record's). Per function, its\n"
      "CPU time is fitted as c * size^k by weighted least squares on a log-log scale: k is about 1 for linear\n"
      "work, 2 for quadratic. Give at least 3 sizes, a decade or more apart in all.\n"
      "\nExit status: 0; 1 when a size failed (the others are still fitted and reported) or nothing could be\n"
      "recorded; 2 bad arguments.");
  cmd->callback([args, &exit_code] { exit_code = run_scale(*args); });
}

}  // namespace ember::cli
