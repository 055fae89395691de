#pragma once
// Reading any profile ember understands and writing the formats it produces. Shared by every
// command, so that `record`, `flamegraph` and `convert` name and render frames the same way.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/regex.h"
#include "common/text.h"
#include "flamegraph/flamegraph.h"
#include "profile/folded.h"
#include "profile/profile.h"

namespace CLI {
class App;
}

namespace ember::cli {

enum class OutputFormat { kSvg, kFolded, kPprofGzip, kPprof, kSpeedscope };

// From --format when given ("svg", "folded", "pprof", "pb.gz", "pb", "speedscope"), else from the
// file extension (.svg, .folded/.txt/.collapsed, .pb.gz, .pb/.pprof, .speedscope.json/.json);
// "-" without --format is folded text.
[[nodiscard]] Result<OutputFormat> output_format(const std::string& path, const std::optional<std::string>& format);
std::string_view format_name(OutputFormat format);

// Bounds on inputs and outputs, the --max-* options of every command that reads profiles
// (README "Limits on inputs").
inline constexpr size_t kDefaultMaxInputBytes = size_t{256} << 20;
inline constexpr size_t kDefaultMaxOutputBytes = size_t{256} << 20;

struct Limits {
  size_t max_input_bytes = kDefaultMaxInputBytes;  // per input, after gzip is inflated
  profile::InputLimits shape;                      // stack depth, name length, frames
  size_t max_output_bytes = kDefaultMaxOutputBytes;  // per output
};

// Adds --max-input-bytes, --max-stack-depth, --max-name-length, --max-frames (inputs = true)
// and --max-output-bytes to `command`.
void add_limit_options(CLI::App* command, Limits& limits, bool inputs = true);

// Reads pprof (gzip'd or not), `perf script` text or folded text, recognised by content, not by
// file name.
// "-" reads stdin. Errors name the file. The limits apply: what they cut is noted on stderr
// ("ember: FILE: 1 stack deeper than 4096 frames: ..."); what they refuse is an error.
[[nodiscard]] Result<profile::Profile> load_profile(const std::string& path, const Limits& limits);

// One input as load_profile reads it, except that folded text stays as parsed (FlatStacks) when
// `flat_folded` is set: an SVG of it then needs no Profile (see render_flat_svg).
struct LoadedInput {
  std::optional<profile::FlatStacks> folded;
  profile::Profile profile;  // when not `folded`
};
[[nodiscard]] Result<LoadedInput> load_input(const std::string& path, const Limits& limits, bool flat_folded);

struct RenderOptions {
  profile::FoldOptions fold;
  std::optional<std::string> sample_type;  // --sample-type; default: the pprof default
  flamegraph::SvgOptions svg;
  size_t max_output_bytes = kDefaultMaxOutputBytes;
  // SVG and folded output only: stacks merged from the leaf (--reverse), or the callers and
  // callees of the functions matching --focus (profile/folded_views.h).
  bool reverse = false;
  std::optional<common::Regex> focus;
};

// Loads several profiles and merges them (equal stacks summed), as pprof does with several inputs.
// Their sample types must agree, and their values must add up within int64.
[[nodiscard]] Result<profile::Profile> load_profiles(const std::vector<std::string>& paths, const Limits& limits);

// Renders `profile` in `format` (fold → SVG/folded text, or pprof).
[[nodiscard]] Result<std::string> render(const profile::Profile& profile, OutputFormat format,
                           const RenderOptions& options);

// Whether `options` draw folded text exactly as render() would from its Profile, so that
// render_flat_svg may be used: an SVG of one folded input without --focus, --reverse or
// --sample-type.
bool renders_flat(OutputFormat format, const RenderOptions& options, size_t inputs);
// The SVG of parsed folded text, named as fold() names it (profile::name_as_folded).
std::string render_flat_svg(profile::FlatStacks& stacks, const RenderOptions& options);

// Renders and writes (see common::write_output; "-" is stdout). Errors: what cannot be rendered
// or exceeds --max-output-bytes (kInvalidArgument), or "cannot write PATH: reason".
[[nodiscard]] Result<void> write_profile(const profile::Profile& profile, const std::string& path,
                           OutputFormat format, const RenderOptions& options);

// write_bounded, with the errors of write_profile ("cannot write PATH: reason").
[[nodiscard]] Result<void> write_rendered(const std::string& path, std::string_view contents, size_t max_bytes);

// Writes `contents` to `path` (common::write_output) unless it is larger than `max_bytes`
// (kResourceExhausted naming the path and --max-output-bytes).
[[nodiscard]] Result<void> write_bounded(const std::string& path, std::string_view contents, size_t max_bytes);

// "12,345"
using common::thousands;

// Prints "ember: MESSAGE" on stderr: every command's one-line errors.
void fail(std::string_view message);

// Checks, before any work, that PATH can be written ("-" always can); false after printing
// "ember: cannot write PATH: reason".
bool output_writable(const std::string& path);

// The positional input files option shared by flamegraph, convert and report.
void add_inputs_option(CLI::App* command, std::vector<std::string>& inputs);

}  // namespace ember::cli
