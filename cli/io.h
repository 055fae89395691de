#pragma once
// Reading any profile ember understands and writing the formats it produces. Shared by every
// command, so that `record`, `flamegraph` and `convert` name and render frames the same way.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/text.h"
#include "flamegraph/flamegraph.h"
#include "profile/folded.h"
#include "profile/profile.h"

namespace CLI {
class App;
}

namespace ember::cli {

enum class OutputFormat { kSvg, kFolded, kPprofGzip, kPprof };

// From --format when given ("svg", "folded", "pprof", "pb.gz", "pb"), else from the file
// extension (.svg, .folded/.txt/.collapsed, .pb.gz, .pb/.pprof); "-" without --format is folded text.
[[nodiscard]] Result<OutputFormat> output_format(const std::string& path, const std::optional<std::string>& format);
std::string_view format_name(OutputFormat format);

// Reads pprof (gzip'd or not) or folded text, recognised by content, not by file name.
// "-" reads stdin. Errors name the file.
[[nodiscard]] Result<profile::Profile> load_profile(const std::string& path);

struct RenderOptions {
  profile::FoldOptions fold;
  std::optional<std::string> sample_type;  // --sample-type; default: the pprof default
  flamegraph::SvgOptions svg;
};

// Loads several profiles and merges them (equal stacks summed), as pprof does with several inputs.
// Their sample types must agree.
[[nodiscard]] Result<profile::Profile> load_profiles(const std::vector<std::string>& paths);

// Renders `profile` in `format` (fold → SVG/folded text, or pprof).
[[nodiscard]] Result<std::string> render(const profile::Profile& profile, OutputFormat format,
                           const RenderOptions& options);

// Renders and writes (atomically; "-" is stdout).
[[nodiscard]] Result<void> write_profile(const profile::Profile& profile, const std::string& path,
                           OutputFormat format, const RenderOptions& options);

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
