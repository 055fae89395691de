#include "cli/io.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "common/checked.h"
#include "common/command_line.h"
#include "common/files.h"
#include "common/mapped_region.h"
#include "flamegraph/speedscope.h"
#include "profile/builder.h"
#include "profile/folded.h"
#include "profile/folded_views.h"
#include "profile/perf_script.h"
#include "proto/pprof.h"

namespace ember::cli {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }
}  // namespace

std::string_view format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::kSvg: return "svg";
    case OutputFormat::kFolded: return "folded";
    case OutputFormat::kPprofGzip: return "pprof";
    case OutputFormat::kPprof: return "pprof (uncompressed)";
    case OutputFormat::kSpeedscope: return "speedscope";
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
    if (f == "speedscope") return OutputFormat::kSpeedscope;
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown format '" + f + "' (choose svg, folded, pprof, pb or speedscope)");
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
  if (ends_with(path, ".json")) return OutputFormat::kSpeedscope;  // run.speedscope.json
  return make_error(ErrorCode::kInvalidArgument,
                    path + ": cannot tell the format from the file name (use .svg, .folded, "
                           ".pb.gz, .pb or .speedscope.json, or --format)");
}

namespace {

// An input's bytes: a file's in anonymous memory advised to use huge pages (a 34 MB profile is
// then read with a few dozen page faults instead of 8,000, each costly on a VM), stdin's in a
// string.
class InputBytes {
 public:
  std::string_view view() const {
    return region_.empty() ? std::string_view(text_) : std::string_view(static_cast<const char*>(region_.data()), size_);
  }
  static Result<InputBytes> read(const std::string& path, size_t max_bytes);

 private:
  common::MappedRegion region_;
  size_t size_ = 0;
  std::string text_;
};

Result<InputBytes> InputBytes::read(const std::string& path, size_t max_bytes) {
  InputBytes in;
  auto limited = [](Result<std::string> bytes) -> Result<std::string> {
    if (!bytes && bytes.error().code() == ErrorCode::kResourceExhausted) {
      return std::unexpected(Error(ErrorCode::kResourceExhausted,
                                   bytes.error().message() + " (--max-input-bytes raises it)"));
    }
    return bytes;
  };
  auto whole = [&]() -> Result<InputBytes> {
    auto bytes = limited(path == "-" ? common::read_fd(STDIN_FILENO, "stdin", max_bytes)
                                     : common::read_file(path, max_bytes));
    if (!bytes) return std::unexpected(bytes.error());
    in.text_ = std::move(*bytes);
    return std::move(in);
  };
  if (path == "-") return whole();
  auto fd = common::open_regular_file(path);
  if (!fd) return std::unexpected(fd.error());
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || st.st_size <= 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    return whole();  // read_file says what is wrong, or reads what a /proc-like file has
  }
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t size = static_cast<size_t>(st.st_size);
  const size_t capacity = (size + 1 + kHugePage - 1) / kHugePage * kHugePage;
  void* addr = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return whole();
  in.region_ = common::MappedRegion(addr, capacity);
  ::madvise(addr, capacity, MADV_HUGEPAGE);  // a hint: without huge pages it still works
  char* p = static_cast<char*>(addr);
  size_t got = 0;
  while (got < capacity) {
    ssize_t n = ::read(fd->get(), p + got, capacity - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  // It grew past what fstat said while being read: read it the ordinary way.
  if (got == capacity) return whole();
  if (got > max_bytes) {
    return make_error(ErrorCode::kResourceExhausted, fmt::format("{}: larger than the limit of {} bytes "
                                                                 "(--max-input-bytes raises it)", path, max_bytes));
  }
  in.size_ = got;
  return in;
}

[[nodiscard]] Result<profile::Profile> decode_input(std::string_view bytes, std::string_view name,
                                      const Limits& limits, profile::LimitReport& cuts,
                                      std::optional<profile::FlatStacks>* flat = nullptr) {
  if (proto::looks_like_pprof(bytes)) {
    proto::DecodeLimits decode_limits;
    decode_limits.max_decompressed_bytes = limits.max_input_bytes;
    auto decoded = proto::decode(bytes, name, decode_limits);
    if (!decoded) {
      const Error& e = decoded.error();
      if (e.code() != ErrorCode::kResourceExhausted) return decoded;
      return std::unexpected(Error(e.code(), e.message() + " (--max-input-bytes raises it)"));
    }
    auto applied = profile::apply_limits(*decoded, limits.shape, name);
    if (!applied) return std::unexpected(applied.error());
    cuts.add(*applied);
    return decoded;
  }
  if (profile::looks_like_perf_script(bytes)) {
    auto parsed = profile::parse_perf_script(bytes, name, limits.shape);
    if (!parsed) return parsed;
    auto applied = profile::apply_limits(*parsed, limits.shape, name);
    if (!applied) return std::unexpected(applied.error());
    cuts.add(*applied);
    return parsed;
  }
  auto empty = [&] {
    return make_error(ErrorCode::kMalformed, std::string(name) + ": empty: neither a pprof profile nor folded stacks");
  };
  if (flat != nullptr) {
    auto parsed = profile::parse_folded_flat(bytes, name, limits.shape, &cuts);
    if (!parsed) return std::unexpected(parsed.error());
    if (parsed->stacks.empty()) return empty();
    *flat = std::move(*parsed);
    return profile::Profile{};
  }
  auto folded = profile::parse_folded(bytes, name, limits.shape, &cuts);
  if (!folded) return std::unexpected(folded.error());
  if (folded->stacks.empty()) return empty();
  return profile::to_profile(*folded);
}

// Per sample type, the sum of all values, or the first type whose sum does not fit in int64.
[[nodiscard]] Result<void> check_totals(const profile::Profile& profile, std::string_view what) {
  for (size_t v = 0; v < profile.sample_types.size(); ++v) {
    int64_t total = 0;
    for (const profile::Sample& s : profile.samples) {
      if (v >= s.values.size()) continue;
      auto sum = common::checked_add(total, s.values[v]);
      if (!sum) {
        return make_error(ErrorCode::kResourceExhausted,
                          fmt::format("{}: the {}/{} values add up past {}", what,
                                      profile.str(profile.sample_types[v].type),
                                      profile.str(profile.sample_types[v].unit), INT64_MAX));
      }
      total = *sum;
    }
  }
  return {};
}

}  // namespace

void add_limit_options(CLI::App* command, Limits& limits, bool inputs) {
  if (inputs) {
    command
        ->add_option("--max-input-bytes", limits.max_input_bytes,
                     fmt::format("Refuse an input larger than this, counted after gzip is inflated "
                                 "(also stdin); K, M, G suffixes [default: {} MiB]",
                                 kDefaultMaxInputBytes >> 20))
        ->transform(CLI::AsSizeValue(false).description(""))
        ->check(CLI::Range(size_t{1}, SIZE_MAX / 2).description(""))
        ->type_name("BYTES");
    command
        ->add_option("--max-stack-depth", limits.shape.max_stack_depth,
                     fmt::format("Deeper stacks keep their root and leaf ends with one elided-frames "
                                 "marker between [default: {}]",
                                 profile::kDefaultMaxStackDepth))
        ->check(CLI::Range(size_t{3}, SIZE_MAX / 2).description(""))
        ->type_name("N");
    command
        ->add_option("--max-name-length", limits.shape.max_name_length,
                     fmt::format("Longer function, file and label names are cut, ending in '…' "
                                 "[default: {} bytes]",
                                 profile::kDefaultMaxNameLength))
        ->transform(CLI::AsSizeValue(false).description(""))
        ->check(CLI::Range(size_t{16}, SIZE_MAX / 2).description(""))
        ->type_name("BYTES");
    command
        ->add_option("--max-frames", limits.shape.max_frames,
                     fmt::format("Refuse an input with more frames than this in all its stacks "
                                 "[default: {}]",
                                 profile::kDefaultMaxFrames))
        ->check(CLI::Range(uint64_t{1}, UINT64_MAX / 2).description(""))
        ->type_name("N");
  }
  command
      ->add_option("--max-output-bytes", limits.max_output_bytes,
                   fmt::format("Refuse to write an output larger than this; a flamegraph leaves out "
                               "its deepest levels instead, and says so [default: {} MiB]",
                               kDefaultMaxOutputBytes >> 20))
      ->transform(CLI::AsSizeValue(false).description(""))
      ->check(CLI::Range(size_t{1} << 20, SIZE_MAX / 2).description(""))
      ->type_name("BYTES");
}

Result<LoadedInput> load_input(const std::string& path, const Limits& limits, bool flat_folded) {
  std::string_view name = path == "-" ? std::string_view("stdin") : std::string_view(path);
  // The limits bound what an input can make ember allocate, not what the machine has left.
  try {
    LoadedInput loaded;
    profile::LimitReport cuts;
    {
      // The input's bytes are freed before anything is rendered from them.
      auto bytes = InputBytes::read(path, limits.max_input_bytes);
      if (!bytes) return std::unexpected(bytes.error());
      auto profile = decode_input(bytes->view(), name, limits, cuts, flat_folded ? &loaded.folded : nullptr);
      if (!profile) return std::unexpected(profile.error());
      loaded.profile = std::move(*profile);
    }
    for (const std::string& note : cuts.notes(limits.shape)) fail(fmt::format("{}: {}", name, note));
    return loaded;
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kResourceExhausted,
                      std::string(name) + ": out of memory while reading it (lower the --max-* limits)");
  }
}

Result<profile::Profile> load_profile(const std::string& path, const Limits& limits) {
  auto loaded = load_input(path, limits, false);
  if (!loaded) return std::unexpected(loaded.error());
  return std::move(loaded->profile);
}

bool renders_flat(OutputFormat format, const RenderOptions& options, size_t inputs) {
  return inputs == 1 && format == OutputFormat::kSvg && !options.focus && !options.reverse && !options.sample_type;
}

std::string render_flat_svg(profile::FlatStacks& stacks, const RenderOptions& options) {
  profile::name_as_folded(stacks, options.fold);
  flamegraph::SvgOptions svg = options.svg;
  svg.max_bytes = options.max_output_bytes;
  return flamegraph::render_svg(stacks, svg);
}

Result<profile::Profile> load_profiles(const std::vector<std::string>& paths, const Limits& limits) {
  if (paths.size() == 1) return load_profile(paths.front(), limits);
  profile::ProfileBuilder merged;
  for (const auto& path : paths) {
    auto one = load_profile(path, limits);
    if (!one) return std::unexpected(one.error());
    if (auto ok = merged.merge(*one); !ok) return std::unexpected(ok.error().with_context(path));
    // The builder saturates; a total that no longer fits is refused rather than shown wrong.
    if (auto ok = check_totals(merged.profile(), fmt::format("{} merged with the inputs before it", path)); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return std::move(merged).finish();
}

Result<std::string> render(const profile::Profile& profile, OutputFormat format,
                           const RenderOptions& options) {
  if (format == OutputFormat::kPprofGzip || format == OutputFormat::kPprof) {
    return proto::encode(profile, format == OutputFormat::kPprofGzip ? proto::Compression::kGzip
                                                                      : proto::Compression::kNone);
  }
  if (format == OutputFormat::kSpeedscope) {
    flamegraph::SpeedscopeOptions speedscope;
    speedscope.max_bytes = options.max_output_bytes;
    if (!options.svg.title.empty() && options.svg.title != flamegraph::SvgOptions{}.title) {
      speedscope.name = options.svg.title;
    }
    if (options.sample_type) {
      auto index = profile.value_index(*options.sample_type);
      if (!index) return std::unexpected(index.error());
      speedscope.value_index = *index;
    }
    return flamegraph::render_speedscope(profile, speedscope);
  }
  profile::FoldOptions fold = options.fold;
  if (options.sample_type) {
    auto index = profile.value_index(*options.sample_type);
    if (!index) return std::unexpected(index.error());
    fold.value_index = *index;
  }
  if (format == OutputFormat::kSvg && !options.focus && !options.reverse) {
    // Equal stacks are merged once, by the layout.
    profile::FlatStacks flat = profile::fold_flat(profile, fold);
    flamegraph::SvgOptions svg = options.svg;
    svg.max_bytes = options.max_output_bytes;
    return flamegraph::render_svg(flat, svg);
  }
  profile::FoldedStacks stacks = profile::fold(profile, fold);
  if (options.focus && format == OutputFormat::kSvg) {
    if (options.reverse) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--reverse and --focus draw different graphs: choose one");
    }
    profile::Sandwich sandwich = profile::sandwich_stacks(stacks, *options.focus);
    if (sandwich.callees.stacks.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--focus: no frame matches '{}'", options.focus->pattern()));
    }
    flamegraph::SvgOptions svg = options.svg;
    svg.max_bytes = options.max_output_bytes;
    return flamegraph::render_sandwich_svg(sandwich, svg);
  }
  if (options.focus) {
    stacks = profile::focus_stacks(stacks, *options.focus);
    if (stacks.stacks.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--focus: no frame matches '{}'", options.focus->pattern()));
    }
  }
  if (options.reverse) stacks = profile::reverse_stacks(stacks);
  if (format == OutputFormat::kFolded) {
    // Sized before it is built: folded text repeats every name of every stack.
    size_t bytes = 0;
    for (const auto& stack : stacks.stacks) {
      bytes += 24;
      for (profile::StringId id : stack.frames) bytes += stacks.names.get(id).size() + 1;
      if (bytes > options.max_output_bytes) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("the folded stacks would be larger than the limit of {} bytes "
                                      "(--max-output-bytes raises it)",
                                      options.max_output_bytes));
      }
    }
    return profile::format_folded(stacks);
  }
  flamegraph::SvgOptions svg = options.svg;
  svg.max_bytes = options.max_output_bytes;
  return flamegraph::render_svg(stacks, svg);
}

Result<void> write_bounded(const std::string& path, std::string_view contents, size_t max_bytes) {
  if (contents.size() > max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: {} bytes, more than the limit of {} bytes (--max-output-bytes "
                                  "raises it)",
                                  path == "-" ? "stdout" : path, contents.size(), max_bytes));
  }
  return common::write_output(path, contents);
}

Result<void> write_profile(const profile::Profile& profile, const std::string& path,
                           OutputFormat format, const RenderOptions& options) {
  auto contents = render(profile, format, options);
  if (!contents) return std::unexpected(contents.error());
  return write_rendered(path, *contents, options.max_output_bytes);
}

Result<void> write_rendered(const std::string& path, std::string_view contents, size_t max_bytes) {
  auto written = write_bounded(path, contents, max_bytes);
  if (!written && written.error().code() != ErrorCode::kInvalidArgument) {
    const Error& e = written.error();
    return std::unexpected(Error(e.code(), "cannot write " + e.message(), e.sys_errno()));
  }
  return written;
}

// One line, and a bounded one: a message that quotes a 120 KB file name or -p value is cut.
void fail(std::string_view message) { fmt::print(stderr, "ember: {}\n", common::echo_input(message, 4096)); }

bool output_writable(const std::string& path) {
  auto ok = common::check_output_writable(path);
  if (!ok) fail("cannot write " + ok.error().message());
  return ok.has_value();
}

void add_inputs_option(CLI::App* command, std::vector<std::string>& inputs) {
  command
      ->add_option("inputs", inputs,
                   "pprof files (gzip'd or not), perf script text or folded stacks, recognised by content; several are "
                   "merged; '-' is stdin")
      ->required();
}

}  // namespace ember::cli
