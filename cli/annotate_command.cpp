// `ember annotate FILE --function REGEX`: the function's source lines with the samples on each,
// laid out as `pprof -list` does. The profile gives file names and line numbers; the sources
// are read here, and checked against what the profile knows before any line is shown.

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analysis/annotate.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/files.h"
#include "common/regex.h"

namespace ember::cli {

namespace {

// Source files larger than this are not annotated (a source of 64 MiB is not a source).
constexpr size_t kMaxSourceBytes = size_t{64} << 20;

struct AnnotateArgs {
  std::vector<std::string> inputs;
  std::string function;
  std::optional<std::string> source_dir;
  std::optional<std::string> sample_type;
  std::string output = "-";
  Limits limits;
};

// Where to look for a recorded path: under --source-dir, the whole path, then the path with
// leading directories dropped one at a time (a checkout elsewhere, a build in a container);
// then the recorded path itself.
std::vector<std::string> candidates(const std::string& recorded, const std::optional<std::string>& dir) {
  std::vector<std::string> out;
  if (dir) {
    std::filesystem::path rel = std::filesystem::path(recorded).relative_path();
    while (!rel.empty()) {
      out.push_back((std::filesystem::path(*dir) / rel).string());
      auto it = rel.begin();
      if (++it == rel.end()) break;
      std::filesystem::path shorter;
      for (; it != rel.end(); ++it) shorter /= *it;
      rel = shorter;
    }
  }
  out.push_back(recorded);
  return out;
}

std::string utc(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(t));
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t eol = text.find('\n', start);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(start, eol - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Tabs as pprof expands them, so that columns line up.
    std::string expanded;
    for (char c : line) {
      if (c == '\t') {
        expanded.append(8 - expanded.size() % 8, ' ');
      } else {
        expanded += c;
      }
    }
    lines.push_back(std::move(expanded));
    start = eol + 1;
  }
  return lines;
}

// The source of `a`, or the reason it is not shown.
analysis::SourceFile find_source(const analysis::AnnotatedFunction& a, const AnnotateArgs& args, int64_t profile_ns) {
  analysis::SourceFile out;
  if (a.file.empty()) {
    out.note = "the profile names no source file: line numbers only";
    return out;
  }
  for (const std::string& path : candidates(a.file, args.source_dir)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    auto text = common::read_file(path, kMaxSourceBytes);
    if (!text) {
      out.note = text.error().message() + ": line numbers only";
      return out;
    }
    const std::string shown = path == a.file ? path : fmt::format("{} (for {})", path, a.file);
    const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    out.lines = split_lines(*text);
    if (a.last_line() > static_cast<int64_t>(out.lines.size())) {
      out.note = fmt::format("{} has {} lines, but the profile has samples on line {}: the file changed "
                             "since it was profiled, or is another file; line numbers only",
                             shown, out.lines.size(), a.last_line());
    } else if (profile_ns > 0 && mtime_ns > profile_ns) {
      out.note = fmt::format("{} was modified at {}, after the profile was taken ({}): its lines may "
                             "not be the profiled ones; line numbers only",
                             shown, utc(mtime_ns), utc(profile_ns));
    }
    if (!out.note.empty()) out.lines.clear();
    return out;
  }
  out.note = fmt::format("source not found: {}{}; line numbers only", a.file,
                         args.source_dir ? fmt::format(" (nor under {})", *args.source_dir)
                                         : std::string(" (--source-dir DIR looks under DIR)"));
  return out;
}

int run_annotate(const AnnotateArgs& args) {
  auto regex = common::Regex::compile(args.function);
  if (!regex) {
    fail("--function: " + regex.error().message());
    return kExitUsage;
  }
  if (!output_writable(args.output)) return kExitFailure;
  auto profile = load_profiles(args.inputs, args.limits);
  if (!profile) {
    fail(profile.error().message());
    return kExitUsage;
  }
  auto index = profile->choose_value_index(args.sample_type ? std::optional<std::string_view>(*args.sample_type)
                                                             : std::nullopt);
  if (!index) {
    fail(index.error().with_context(args.inputs.front()).message());
    return kExitUsage;
  }
  analysis::Annotation annotation = analysis::annotate(*profile, *regex, *index);
  if (annotation.functions.empty()) {
    fail(fmt::format("{}: no function matching '{}' has samples", args.inputs.front(), args.function));
    return kExitFailure;
  }
  // Each file once, however many of its functions are shown.
  std::map<std::string, analysis::SourceFile> files;
  std::vector<analysis::SourceFile> sources;
  for (const analysis::AnnotatedFunction& a : annotation.functions) {
    auto it = files.find(a.file);
    if (it == files.end()) it = files.emplace(a.file, find_source(a, args, profile->time_nanos)).first;
    analysis::SourceFile source = it->second;
    // Another function of a file found whole may still reach past its end.
    if (source.note.empty() && a.last_line() > static_cast<int64_t>(source.lines.size())) {
      source = find_source(a, args, profile->time_nanos);
    }
    sources.push_back(std::move(source));
  }
  std::string text = analysis::format_annotation_text(annotation, sources);
  if (auto ok = write_bounded(args.output, text, args.limits.max_output_bytes); !ok) {
    fail("cannot write " + ok.error().message());
    return ok.error().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_annotate_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AnnotateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "annotate", "A function's source lines with the samples on each (flat and cumulative), as pprof -list");
  add_inputs_option(cmd, args->inputs);
  cmd->add_option("--function", args->function,
                  "RE2 regex: the functions whose name it matches (anywhere; anchor with ^ and $)")
      ->required()
      ->type_name("REGEX");
  cmd->add_option("--source-dir", args->source_dir,
                  "Look for the sources under DIR (the recorded path, then with leading directories "
                  "dropped) before the recorded path")
      ->type_name("DIR");
  cmd->add_option("--sample-type", args->sample_type, "Which value of a pprof profile to use, e.g. samples or cpu");
  cmd->add_option("-o,--output", args->output, "File to write; '-' is stdout [default: -]");
  add_limit_options(cmd, args->limits);
  cmd->footer("\nExamples:\n  ember annotate run.pb.gz --function '^compress_block$'\n"
              "  ember annotate cpu.pprof --function main.burn --source-dir ~/src/app");
  cmd->callback([args, &exit_code] { exit_code = run_annotate(*args); });
}

}  // namespace ember::cli
