// `ember flamegraph`, `ember convert` and `ember diff`: turn profiles ember can read
// (pprof, gzip'd or not, or folded text) into the formats it writes.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/io.h"
#include "common/files.h"
#include "flamegraph/flamegraph.h"

namespace ember::cli {

namespace {

// Options that decide how stacks are named and drawn, common to the three commands.
struct ViewArgs {
  bool per_pid = false;
  bool per_thread = false;
  bool no_inline = false;
  bool no_process_root = false;
  std::optional<std::string> sample_type;
  std::optional<std::string> title;
  std::optional<std::string> subtitle;
  double min_width = 0.1;
  int width = 1200;
  bool inverted = false;
  bool reverse = false;
  std::optional<std::string> focus;
  std::string colors = "hot";

  // flamegraph: other views of the same stacks.
  void add_views_to(CLI::App* cmd) {
    cmd->add_flag("--reverse", reverse,
                  "Merge stacks from the leaf: the functions that ran at the root, their callers above");
    cmd->add_option("--focus", focus,
                    "Sandwich view of the functions matching this RE2 regex: the function in the middle, "
                    "its callers above it (nearest first), its callees below it. Folded output: the "
                    "callees, and beside them 'callers of NAME'")
        ->type_name("REGEX");
    cmd->add_option("--colors", colors,
                    "Palette, as flamegraph.pl names them: " + flamegraph::palette_names() +
                        ". Colours are a hash of the name in every palette, so a function keeps its "
                        "colour from graph to graph [default: hot]")
        ->type_name("PALETTE");
  }

  void add_to(CLI::App* cmd, bool svg_options) {
    cmd->add_flag("--per-pid", per_pid, "Root frame is name-PID (profiles with pid labels)");
    cmd->add_flag("--per-thread", per_thread, "Add a frame for the thread name (profiles with thread labels)");
    cmd->add_flag("--no-inline", no_inline, "Do not show inlined functions as frames of their own");
    cmd->add_flag("--no-process-root", no_process_root, "Do not put the process name at the root");
    cmd->add_option("--sample-type", sample_type,
                    "Which value of a pprof profile to use, e.g. samples or cpu; off-CPU recordings also have "
                    "wall, off_cpu, blocked and runnable [default: the pprof default]");
    if (!svg_options) return;
    cmd->add_option("--title", title, "Flamegraph title");
    cmd->add_option("--subtitle", subtitle, "Flamegraph subtitle");
    cmd->add_option("--minwidth", min_width,
                    "Leave out frames narrower than this many pixels [default: 0.1]")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--width", width, "Width in pixels [default: 1200]")->check(CLI::Range(100, 100000));
    cmd->add_flag("--inverted", inverted, "Icicle graph: roots at the top");
  }

  RenderOptions render_options(const std::string& default_title) const {
    RenderOptions o;
    o.fold.per_pid = per_pid;
    o.fold.per_thread = per_thread;
    o.fold.inline_frames = !no_inline;
    o.fold.process_root = !no_process_root;
    o.sample_type = sample_type;
    o.svg.title = title.value_or(default_title);
    if (subtitle) o.svg.subtitle = *subtitle;
    o.svg.min_width = min_width;
    o.svg.width = width;
    o.svg.inverted = inverted;
    return o;
  }
};

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A failed write_profile/write_rendered: exit 2 when the output would pass its limit.
int report_write_error(const Error& error) {
  fail(error.message());
  return error.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

// flamegraph and convert: one or more inputs merged, written in one format.
struct ConvertArgs {
  std::vector<std::string> inputs;
  std::string output = "-";
  std::optional<std::string> format;
  ViewArgs view;
  Limits limits;
};

int run_convert(const ConvertArgs& args) {
  auto format = output_format(args.output, args.format);
  if (!format) {
    fail(format.error().message());
    return kExitUsage;
  }
  if (!output_writable(args.output)) return kExitFailure;
  const std::string& first = args.inputs.front();
  std::string title = first == "-" ? "Flame Graph" : base_name(first);
  if (args.inputs.size() > 1) title += fmt::format(" and {} more", args.inputs.size() - 1);
  RenderOptions options = args.view.render_options(title);
  auto palette = flamegraph::palette_from_name(args.view.colors);
  if (!palette) {
    fail(fmt::format("--colors: unknown palette '{}' (choose {})", args.view.colors,
                     flamegraph::palette_names()));
    return kExitUsage;
  }
  options.svg.palette = *palette;
  options.max_output_bytes = args.limits.max_output_bytes;
  options.reverse = args.view.reverse;
  if (args.view.focus) {
    auto focus = common::Regex::compile(*args.view.focus);
    if (!focus) {
      fail("--focus: " + focus.error().message());
      return kExitUsage;
    }
    options.focus = std::move(*focus);
  }
  // One folded file to SVG: drawn from the parsed text, without building a Profile.
  const bool flat = renders_flat(*format, options, args.inputs.size());
  auto loaded = flat ? load_input(first, args.limits, true) : Result<LoadedInput>(LoadedInput{});
  if (!loaded) {
    fail(loaded.error().message());
    return kExitUsage;
  }
  if (loaded->folded) {
    std::string svg = render_flat_svg(*loaded->folded, options);
    loaded->folded.reset();
    auto written = write_rendered(args.output, svg, args.limits.max_output_bytes);
    return written ? kExitOk : report_write_error(written.error());
  }
  auto profile = flat ? Result<profile::Profile>(std::move(loaded->profile)) : load_profiles(args.inputs, args.limits);
  if (!profile) {
    fail(profile.error().message());
    return kExitUsage;
  }
  auto written = write_profile(*profile, args.output, *format, options);
  return written ? kExitOk : report_write_error(written.error());
}

struct DiffArgs {
  std::string baseline;
  std::string current;
  std::string output = "-";
  bool no_normalize = false;
  ViewArgs view;
  Limits limits;
};

int run_diff(const DiffArgs& args) {
  if (!output_writable(args.output)) return kExitFailure;
  auto baseline = load_profile(args.baseline, args.limits);
  if (!baseline) {
    fail(baseline.error().message());
    return kExitUsage;
  }
  auto current = load_profile(args.current, args.limits);
  if (!current) {
    fail(current.error().message());
    return kExitUsage;
  }
  RenderOptions options = args.view.render_options(
      fmt::format("{} → {}", base_name(args.baseline), base_name(args.current)));
  auto fold = [&](const profile::Profile& p, const std::string& name) -> Result<profile::FoldedStacks> {
    profile::FoldOptions f = options.fold;
    if (options.sample_type) {
      auto index = p.value_index(*options.sample_type);
      if (!index) return std::unexpected(index.error().with_context(name));
      f.value_index = *index;
    }
    return profile::fold(p, f);
  };
  auto before = fold(*baseline, args.baseline);
  auto after = fold(*current, args.current);
  if (!before || !after) {
    fail((before ? after.error() : before.error()).message());
    return kExitUsage;
  }
  flamegraph::DiffOptions diff;
  diff.svg = options.svg;
  diff.normalize = !args.no_normalize;
  diff.svg.max_bytes = args.limits.max_output_bytes;
  std::string svg = flamegraph::render_diff_svg(*before, *after, diff);
  if (auto ok = write_bounded(args.output, svg, args.limits.max_output_bytes); !ok) {
    fail("cannot write " + ok.error().message());
    return ok.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_flamegraph_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ConvertArgs>();
  args->format = "svg";
  CLI::App* cmd = app.add_subcommand("flamegraph", "Render a profile (pprof or folded stacks) as an interactive SVG flamegraph");
  add_inputs_option(cmd, args->inputs);
  cmd->add_option("-o,--output", args->output, "SVG file to write; '-' is stdout [default: -]");
  args->view.add_to(cmd, true);
  args->view.add_views_to(cmd);
  add_limit_options(cmd, args->limits);
  cmd->footer("\nExamples:\n  ember flamegraph stacks.folded -o out.svg\n  ember flamegraph current.pb.gz -o current.svg\n"
              "  perf script | stackcollapse-perf.pl | ember flamegraph - -o perf.svg");
  cmd->callback([args, &exit_code] { exit_code = run_convert(*args); });
}

void add_convert_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert between pprof, folded stacks and SVG");
  add_inputs_option(cmd, args->inputs);
  cmd->add_option("-o,--output", args->output,
                  "Output file; format by extension (.pb.gz, .pb, .folded, .svg, .speedscope.json) or --format")
      ->required();
  cmd->add_option("--format", args->format, "svg, folded, pprof (gzip'd), pb or speedscope");
  args->view.add_to(cmd, true);
  add_limit_options(cmd, args->limits);
  cmd->footer("\nExamples:\n  ember convert current.pb.gz -o current.folded\n  ember convert stacks.folded -o stacks.pb.gz\n"
              "  ember convert run-*.pb.gz -o merged.pb.gz        merge repeated runs");
  cmd->callback([args, &exit_code] { exit_code = run_convert(*args); });
}

void add_diff_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd = app.add_subcommand(
      "diff", "Differential flamegraph: the shape of CURRENT, red where it grew since BASELINE, blue where it shrank");
  cmd->add_option("baseline", args->baseline, "Baseline profile (pprof or folded)")->required();
  cmd->add_option("current", args->current, "Current profile (pprof or folded)")->required();
  cmd->add_option("-o,--output", args->output, "SVG file to write; '-' is stdout [default: -]");
  cmd->add_flag("--no-normalize", args->no_normalize,
                "Compare raw values instead of shares of each profile's total");
  args->view.add_to(cmd, true);
  add_limit_options(cmd, args->limits);
  cmd->footer("\nExample:\n  ember diff baseline.pb.gz current.pb.gz -o diff.svg");
  cmd->callback([args, &exit_code] { exit_code = run_diff(*args); });
}

}  // namespace ember::cli
