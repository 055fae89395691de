#include "cli/io.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "common/files.h"
#include "profile/builder.h"
#include "profile/folded.h"
#include "proto/pprof.h"

namespace ember::cli {

namespace {
// Inputs are read whole; beyond this a file is refused rather than exhausting memory.
constexpr size_t kMaxInputBytes = size_t{4} << 30;

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }
}  // namespace

std::string_view format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::kSvg: return "svg";
    case OutputFormat::kFolded: return "folded";
    case OutputFormat::kPprofGzip: return "pprof";
    case OutputFormat::kPprof: return "pprof (uncompressed)";
  }
  return "?";
}

Result<OutputFormat> output_format(const std::string& path, const std::optional<std::string>& format) {
  if (format) {
    const std::string& f = *format;
    if (f == "svg") return OutputFormat::kSvg;
    if (f == "folded" || f == "collapsed") return OutputFormat::kFolded;
    if (f == "pprof" || f == "pb.gz") return OutputFormat::kPprofGzip;
    if (f == "pb" || f == "pprof-raw") return OutputFormat::kPprof;
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown format '" + f + "' (choose svg, folded, pprof or pb)");
  }
  if (path == "-") return OutputFormat::kFolded;
  if (ends_with(path, ".svg")) return OutputFormat::kSvg;
  if (ends_with(path, ".folded") || ends_with(path, ".collapsed") || ends_with(path, ".txt")) {
    return OutputFormat::kFolded;
  }
  if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof.gz") || ends_with(path, ".pprof")) {
    return OutputFormat::kPprofGzip;
  }
  if (ends_with(path, ".pb")) return OutputFormat::kPprof;
  return make_error(ErrorCode::kInvalidArgument,
                    path + ": cannot tell the format from the file name (use .svg, .folded, "
                           ".pb.gz or .pb, or --format)");
}

Result<profile::Profile> load_profile(const std::string& path) {
  Result<std::string> bytes = path == "-" ? common::read_fd(STDIN_FILENO, "stdin", kMaxInputBytes)
                                          : common::read_file(path, kMaxInputBytes);
  if (!bytes) return std::unexpected(bytes.error());
  std::string_view name = path == "-" ? std::string_view("stdin") : std::string_view(path);
  if (proto::looks_like_pprof(*bytes)) return proto::decode(*bytes, name);
  auto folded = profile::parse_folded(*bytes, name);
  if (!folded) return std::unexpected(folded.error());
  if (folded->stacks.empty()) {
    return make_error(ErrorCode::kMalformed,
                      std::string(name) + ": empty: neither a pprof profile nor folded stacks");
  }
  return profile::to_profile(*folded);
}

Result<profile::Profile> load_profiles(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return load_profile(paths.front());
  profile::ProfileBuilder merged;
  for (const auto& path : paths) {
    auto one = load_profile(path);
    if (!one) return std::unexpected(one.error());
    if (auto ok = merged.merge(*one); !ok) return std::unexpected(ok.error().with_context(path));
  }
  return std::move(merged).finish();
}

Result<std::string> render(const profile::Profile& profile, OutputFormat format,
                           const RenderOptions& options) {
  if (format == OutputFormat::kPprofGzip || format == OutputFormat::kPprof) {
    return proto::encode(profile, format == OutputFormat::kPprofGzip ? proto::Compression::kGzip
                                                                      : proto::Compression::kNone);
  }
  profile::FoldOptions fold = options.fold;
  if (options.sample_type) {
    auto index = profile.value_index(*options.sample_type);
    if (!index) return std::unexpected(index.error());
    fold.value_index = *index;
  }
  profile::FoldedStacks stacks = profile::fold(profile, fold);
  if (format == OutputFormat::kFolded) return profile::format_folded(stacks);
  return flamegraph::render_svg(stacks, options.svg);
}

Result<void> write_profile(const profile::Profile& profile, const std::string& path,
                           OutputFormat format, const RenderOptions& options) {
  auto contents = render(profile, format, options);
  if (!contents) return std::unexpected(contents.error());
  return common::write_output(path, *contents);
}

void fail(std::string_view message) { fmt::print(stderr, "ember: {}\n", message); }

bool output_writable(const std::string& path) {
  auto ok = common::check_output_writable(path);
  if (!ok) fail("cannot write " + ok.error().message());
  return ok.has_value();
}

void add_inputs_option(CLI::App* command, std::vector<std::string>& inputs) {
  command
      ->add_option("inputs", inputs,
                   "pprof files (gzip'd or not) or folded stacks, recognised by content; several are "
                   "merged; '-' is stdin")
      ->required();
}

}  // namespace ember::cli
