// ember and the pprof ecosystem: `go tool pprof` reads every file ember writes and shows the
// numbers the model holds; ember reads the CPU profile that Go's runtime/pprof writes.

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "common/regex.h"
#include "profile/folded.h"
#include "proto/pprof.h"
#include "test_support.h"

namespace ember::proto {
namespace {

using namespace ember::profile;

std::string go_executable() {
  std::string go = EMBER_GO_EXECUTABLE;
  return go.empty() || go.ends_with("-NOTFOUND") ? std::string() : go;
}

#define REQUIRE_GO()                                                                   \
  if (go_executable().empty()) {                                                       \
    GTEST_SKIP() << "go was not found when configuring (scripts/deps installs golang-go)"; \
  }

// Everything Go writes goes into the build tree; no modules, so nothing is fetched.
std::vector<std::string> go_env() {
  std::string base = std::string(EMBER_BINARY_DIR) + "/tests/proto/go";
  return {"GOCACHE=" + base + "/cache", "GOPATH=" + base + "/path", "HOME=" + base + "/home",
          "PPROF_TMPDIR=" + base + "/pprof", "GO111MODULE=off", "GOENV=off", "GOFLAGS=",
          "GOTOOLCHAIN=local"};
}

std::string pprof(std::vector<std::string> options, const std::string& file) {
  std::vector<std::string> argv = {go_executable(), "tool", "pprof", "-symbolize=none"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(file);
  test::CommandResult r = test::run_command(argv, go_env());
  EXPECT_EQ(r.exit_code, 0) << fmt::format("{}\n{}", fmt::join(argv, " "), r.err);
  return r.out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---- -top

struct Top {
  int64_t total = -1;
  std::map<std::string, test::FlatCum> rows;
};

int64_t parse_value(std::string text, std::string_view unit) {
  if (!unit.empty() && text.ends_with(unit)) text.resize(text.size() - unit.size());
  return std::stoll(text);
}

// "Showing nodes accounting for 130, 100% of 130 total", then
// "      flat  flat%   sum%        cum   cum%" and one row per node.
Top parse_top(const std::string& out, std::string_view unit) {
  Top top;
  static const common::Regex total_re = *common::Regex::compile(R"(^Showing nodes accounting for \S+, \S+ of (\S+) total$)");
  static const common::Regex row_re = *common::Regex::compile(R"(^\s*(\S+)\s+\S+%\s+\S+%\s+(\S+)\s+\S+%\s+(.+)$)");
  bool in_rows = false;
  for (const std::string& line : lines_of(out)) {
    std::vector<std::string> m;
    if (total_re.full_match(line, &m)) {
      top.total = parse_value(m[1], unit);
    } else if (line.find("flat%") != std::string::npos) {
      in_rows = true;
    } else if (in_rows && row_re.full_match(line, &m)) {
      top.rows[m[3]] = test::FlatCum{parse_value(m[1], unit), parse_value(m[2], unit)};
    }
  }
  return top;
}

void expect_top_agrees(const Profile& p, const std::string& file, size_t value_index) {
  std::string type(p.str(p.sample_types[value_index].type));
  std::string unit(p.str(p.sample_types[value_index].unit));
  // Counts print as plain numbers; nanoseconds would be scaled ("1.50s") unless pinned to ns.
  std::string suffix = unit == "nanoseconds" ? "ns" : "";
  std::vector<std::string> options = {"-top", "-nodecount=100000", "-nodefraction=0",
                                      "-edgefraction=0", "-sample_index=" + type};
  if (!suffix.empty()) options.push_back("-unit=ns");
  std::string out = pprof(options, file);
  Top top = parse_top(out, suffix);
  EXPECT_EQ(top.total, p.total(value_index)) << out;
  auto expected = test::flat_cum(p, value_index);
  EXPECT_EQ(top.rows.size(), expected.size()) << out;
  for (const auto& [name, numbers] : expected) {
    auto it = top.rows.find(name);
    ASSERT_NE(it, top.rows.end()) << "pprof -top has no row for " << name << "\n" << out;
    EXPECT_EQ(it->second.flat, numbers.flat) << name << "\n" << out;
    EXPECT_EQ(it->second.cum, numbers.cum) << name << "\n" << out;
  }
}

// ---- -raw: pprof prints its parsed profile (profile.Profile.String()); this is the same text
// made from ember's model, so every field pprof shows is compared.
//
// pprof merges what it reads (even a single profile) before printing: samples whose values are
// all zero go, locations are renumbered in the order samples first use them, and mappings
// follow, the first mapping (the main binary) staying first. Unused entries disappear.
std::string expected_raw_body(const Profile& p) {
  std::vector<uint64_t> location_id(p.locations.size(), 0);
  std::vector<uint64_t> mapping_id(p.mappings.size(), 0);
  std::vector<size_t> location_order, mapping_order;
  if (!p.mappings.empty()) {
    mapping_id[0] = 1;
    mapping_order.push_back(0);
  }
  std::vector<const Sample*> samples;
  for (const Sample& s : p.samples) {
    if (std::all_of(s.values.begin(), s.values.end(), [](int64_t v) { return v == 0; })) continue;
    samples.push_back(&s);
    for (LocationId id : s.locations) {
      if (location_id[id.value] != 0) continue;
      MappingId m = p.location(id).mapping;
      if (m.valid() && mapping_id[m.value] == 0) {
        mapping_order.push_back(m.value);
        mapping_id[m.value] = mapping_order.size();
      }
      location_order.push_back(id.value);
      location_id[id.value] = location_order.size();
    }
  }

  std::vector<std::string> out;
  out.push_back("Samples:");
  std::string types;
  for (const ValueType& t : p.sample_types) {
    bool is_default = p.str(t.type) == p.str(p.default_sample_type);
    types += fmt::format("{}/{}{} ", p.str(t.type), p.str(t.unit), is_default ? "[dflt]" : "");
  }
  types.pop_back();
  out.push_back(types);
  const std::string label_indent(16, ' ');
  for (const Sample* s : samples) {
    std::string line;
    for (int64_t v : s->values) line += fmt::format(" {:>10}", v);
    line += ": ";
    for (LocationId id : s->locations) line += fmt::format("{} ", location_id[id.value]);
    out.push_back(line);
    std::map<std::string, std::vector<std::string>> strs, nums;
    for (const Label& l : s->labels) {
      if (l.str.value != 0) {
        strs[std::string(p.str(l.key))].emplace_back(p.str(l.str));
      } else {
        std::string_view unit = p.str(l.num_unit);
        nums[std::string(p.str(l.key))].push_back(
            unit.empty() ? std::to_string(l.num) : fmt::format("{} {}", l.num, unit));
      }
    }
    for (auto* group : {&strs, &nums}) {
      if (group->empty()) continue;
      std::vector<std::string> parts;
      for (const auto& [key, values] : *group) {
        parts.push_back(fmt::format("{}:[{}]", key, fmt::join(values, " ")));
      }
      out.push_back(label_indent + fmt::format("{}", fmt::join(parts, " ")));
    }
  }
  out.push_back("Locations");
  for (size_t index : location_order) {
    const Location& l = p.locations[index];
    std::string head = fmt::format("{:>6}: {:#x} ", location_id[index], l.address);
    if (l.mapping.valid()) head += fmt::format("M={} ", mapping_id[l.mapping.value]);
    if (l.is_folded) head += "[F] ";
    if (l.lines.empty()) out.push_back(head);
    for (const Line& line : l.lines) {
      const Function& f = p.function(line.function);
      std::string text = fmt::format("{} {}:{} s={}", p.str(f.name), p.str(f.filename), line.line,
                                     f.start_line);
      if (p.str(f.name) != p.str(f.system_name)) text += fmt::format("({})", p.str(f.system_name));
      out.push_back(head + text);
      head = std::string(13, ' ');
    }
  }
  out.push_back("Mappings");
  for (size_t index : mapping_order) {
    const Mapping& m = p.mappings[index];
    std::string bits = std::string(m.has_functions ? "[FN]" : "") + (m.has_filenames ? "[FL]" : "") +
                       (m.has_line_numbers ? "[LN]" : "") + (m.has_inline_frames ? "[IN]" : "");
    out.push_back(fmt::format("{}: {:#x}/{:#x}/{:#x} {} {} {}", mapping_id[index], m.memory_start,
                              m.memory_limit, m.file_offset, p.str(m.filename), p.str(m.build_id),
                              bits));
  }
  return fmt::format("{}\n", fmt::join(out, "\n"));
}

std::string raw_body(const std::string& raw_output) {
  size_t at = raw_output.find("Samples:\n");
  return at == std::string::npos ? raw_output : raw_output.substr(at);
}

// ---- -traces: one block per sample, labels then "VALUE   leaf" and the callers below.

struct Trace {
  int64_t value = 0;
  std::vector<std::string> frames;
  std::map<std::string, std::string> labels;
  auto operator<=>(const Trace&) const = default;
};

std::vector<Trace> parse_traces(const std::string& out) {
  std::vector<Trace> traces;
  static const common::Regex label_re = *common::Regex::compile(R"(^\s*([^\s:]+):  (.*)$)");
  static const common::Regex first_re = *common::Regex::compile(R"(^\s*(-?\d+)   (.+)$)");
  std::optional<Trace> current;
  for (const std::string& line : lines_of(out)) {
    std::vector<std::string> m;
    if (line.starts_with("-----------+")) {
      if (current) traces.push_back(std::move(*current));
      current.emplace();
    } else if (!current) {
      continue;
    } else if (current->frames.empty() && first_re.full_match(line, &m)) {
      current->value = std::stoll(m[1]);
      current->frames.push_back(m[2]);
    } else if (!current->frames.empty() && line.starts_with(std::string(13, ' '))) {
      current->frames.push_back(line.substr(13));
    } else if (current->frames.empty() && label_re.full_match(line, &m)) {
      current->labels[m[1]] = m[2];
    }
  }
  std::sort(traces.begin(), traces.end());
  return traces;
}

std::vector<Trace> expected_traces(const Profile& p, size_t value_index) {
  std::vector<Trace> traces;
  for (const Sample& s : p.samples) {
    Trace t;
    t.value = s.values[value_index];
    t.frames = test::pprof_frames(p, s);
    for (std::string_view key : {kLabelComm, kLabelThreadComm}) {
      if (!p.str_label(s, key).empty()) t.labels[std::string(key)] = p.str_label(s, key);
    }
    for (std::string_view key : {kLabelPid, kLabelTid}) {
      if (auto n = p.num_label(s, key)) t.labels[std::string(key)] = std::to_string(*n);
    }
    traces.push_back(std::move(t));
  }
  std::sort(traces.begin(), traces.end());
  return traces;
}

// Labels that the model comparison does not cover (units are shown scaled, "512B").
void drop_other_labels(std::vector<Trace>& traces) {
  for (Trace& t : traces) {
    std::erase_if(t.labels, [](const auto& kv) {
      return kv.first != kLabelComm && kv.first != kLabelThreadComm && kv.first != kLabelPid &&
             kv.first != kLabelTid;
    });
  }
  std::sort(traces.begin(), traces.end());
}

std::string write_encoded(const test::TempDir& dir, std::string_view name, const Profile& p,
                          Compression c = Compression::kGzip) {
  auto bytes = encode(p, c);
  EXPECT_TRUE(bytes) << bytes.error().message();
  std::string path = dir.file(name);
  test::write_file(path, bytes ? *bytes : "");
  return path;
}

TEST(GoToolPprof, TopAgreesWithTheModelForEverySampleType) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_rich_profile();
  std::string file = write_encoded(dir, "rich.pb.gz", p);
  expect_top_agrees(p, file, 0);
  expect_top_agrees(p, file, 1);
}

TEST(GoToolPprof, RawShowsEveryFieldAsTheModelHasIt) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_rich_profile();
  std::string out = pprof({"-raw"}, write_encoded(dir, "rich.pb.gz", p));
  EXPECT_EQ(raw_body(out), expected_raw_body(p));
  // The header: comments, period, time and duration.
  EXPECT_TRUE(out.starts_with("Comment: recorded by ember 0.1.0\n"
                              "Comment: command: ./bench --quick\n"
                              "PeriodType: cpu nanoseconds\n"
                              "Period: 10101010\n"
                              "Time: 2023-11-14 22:13:20.123456789 +0000 UTC\n"
                              "Duration: 30s\n"))
      << out;
}

TEST(GoToolPprof, TracesShowEveryStackWithItsLabels) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_rich_profile();
  std::string file = write_encoded(dir, "rich.pb.gz", p);
  for (size_t index : {size_t{0}, size_t{1}}) {
    std::string type(p.str(p.sample_types[index].type));
    std::vector<std::string> options = {"-traces", "-sample_index=" + type};
    if (type == "cpu") options.push_back("-unit=ns");
    std::string out = pprof(options, file);
    if (type == "cpu") {
      // "707070700ns   compute_alpha(int)": drop the unit to compare numbers.
      out = common::Regex::compile(R"((\d)ns   )")->replace_all(out, "\\1   ");
    }
    auto traces = parse_traces(out);
    drop_other_labels(traces);
    EXPECT_EQ(traces, expected_traces(p, index)) << out;
  }
}

TEST(GoToolPprof, ShowsPythonFunctionsWithTheirFilesAndLines) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_python_profile();
  std::string file = write_encoded(dir, "python.pb.gz", p);
  expect_top_agrees(p, file, 0);
  EXPECT_EQ(raw_body(pprof({"-raw"}, file)), expected_raw_body(p));
  // -lines: pprof names each Python location by function, file and line, as ember's model has them.
  std::string lines = pprof({"-top", "-lines", "-nodefraction=0"}, file);
  EXPECT_NE(lines.find("hot /srv/app/lib/hot.py:5"), std::string::npos) << lines;
  EXPECT_NE(lines.find("Server.handle /srv/app/app.py:40"), std::string::npos) << lines;
}

TEST(GoToolPprof, ReadsUncompressedFilesToo) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_rich_profile();
  std::string out = pprof({"-raw"}, write_encoded(dir, "rich.pb", p, Compression::kNone));
  EXPECT_EQ(raw_body(out), expected_raw_body(p));
}

TEST(GoToolPprof, ReadsARecordingShapedProfile) {
  REQUIRE_GO();
  test::TempDir dir;
  Profile p = test::make_recording(50, 20, 4, 12000);
  std::string file = write_encoded(dir, "recording.pb.gz", p);
  expect_top_agrees(p, file, 0);
  EXPECT_EQ(raw_body(pprof({"-raw"}, file)), expected_raw_body(p));
}

TEST(GoToolPprof, ReadsProfilesMadeFromFoldedText) {
  REQUIRE_GO();
  auto folded = parse_folded(
      "app;main;compute_alpha 70\n"
      "app;main;read;entry_SYSCALL_64_[k];ksys_read_[k] 9\n"
      "node;LazyCompile:*run_[j] 4\n",
      "in.folded");
  ASSERT_TRUE(folded);
  Profile p = to_profile(*folded);
  test::TempDir dir;
  std::string file = write_encoded(dir, "folded.pb.gz", p);
  expect_top_agrees(p, file, 0);
  auto traces = parse_traces(pprof({"-traces"}, file));
  EXPECT_EQ(traces, expected_traces(p, 0));
}

// ---- A CPU profile written by Go's runtime.

class GoCpuProfile : public ::testing::Test {
 protected:
  // Builds tests/fixtures/go/cpuburn and runs it for one second of CPU time.
  void SetUp() override {
    REQUIRE_GO();
    std::string binary = dir_.file("cpuburn");
    auto build = test::run_command(
        {go_executable(), "build", "-o", binary,
         std::string(EMBER_SOURCE_DIR) + "/tests/fixtures/go/cpuburn/main.go"},
        go_env());
    ASSERT_EQ(build.exit_code, 0) << build.err;
    file_ = dir_.file("cpu.pb.gz");
    auto run = test::run_command({binary, file_, "1"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    bytes_ = test::read_file(file_);
    auto decoded = decode(bytes_, file_);
    ASSERT_TRUE(decoded) << decoded.error().message();
    profile_ = std::move(*decoded);
  }

  test::TempDir dir_;
  std::string file_;
  std::string bytes_;
  Profile profile_;
};

// (Each test runs the program for a second of CPU time, so the checks are grouped in two.)
TEST_F(GoCpuProfile, DecodesSampleTypesDefaultAndFunctionShares) {
  const Profile& p = profile_;
  EXPECT_TRUE(is_gzip(bytes_));
  EXPECT_TRUE(looks_like_pprof(bytes_));
  ASSERT_EQ(p.sample_types.size(), 2u);
  EXPECT_EQ(p.str(p.sample_types[0].type), "samples");
  EXPECT_EQ(p.str(p.sample_types[0].unit), "count");
  EXPECT_EQ(p.str(p.sample_types[1].type), "cpu");
  EXPECT_EQ(p.str(p.sample_types[1].unit), "nanoseconds");
  // Go does not set default_sample_type: the default is the last type, cpu.
  EXPECT_EQ(p.str(p.default_sample_type), "");
  EXPECT_EQ(p.default_value_index(), 1u);
  EXPECT_EQ(p.str(p.period_type.type), "cpu");
  EXPECT_EQ(p.str(p.period_type.unit), "nanoseconds");
  EXPECT_EQ(p.period, 10'000'000);  // 100 Hz
  EXPECT_GT(p.time_nanos, 0);
  EXPECT_GT(p.duration_nanos, 0);
  ASSERT_FALSE(p.mappings.empty());
  EXPECT_TRUE(p.str(p.mappings[0].filename).ends_with("/cpuburn")) << p.str(p.mappings[0].filename);
  EXPECT_EQ(p.mappings[0].kind, MappingKind::kFile);
  // Each sample's CPU time is its count times the period.
  for (const Sample& s : p.samples) EXPECT_EQ(s.values[1], s.values[0] * p.period);

  int64_t total = p.total(1);
  // One second of CPU time at 100 Hz: about 100 samples. A loaded machine loses some profiling
  // signals (60 to 100 seen with three copies running on two busy cores); under 40, sampling broke.
  ASSERT_GE(p.total(0), 40);
  auto numbers = test::flat_cum(p, 1);
  ASSERT_TRUE(numbers.contains("main.burnAlpha"));
  ASSERT_TRUE(numbers.contains("main.burnBeta"));
  // Inclusive time: on a busy machine Go's asynchronous preemption lands inside both loops
  // (runtime.asyncPreempt as the leaf), so flat time alone undercounts them.
  double alpha = static_cast<double>(numbers["main.burnAlpha"].cum) / static_cast<double>(total);
  double beta = static_cast<double>(numbers["main.burnBeta"].cum) / static_cast<double>(total);
  // Nearly all the work is in the two loops (the rest: reading the CPU clock, the runtime).
  EXPECT_GT(alpha + beta, 0.85) << alpha << " + " << beta;
  // burnAlpha does three times burnBeta's work: 3/4 of the two. Seen under heavy load: 0.70 to
  // 0.82; the bounds leave room for sampling noise (about 0.045 at 100 samples).
  double alpha_share = alpha / (alpha + beta);
  EXPECT_GT(alpha_share, 0.6) << alpha_share;
  EXPECT_LT(alpha_share, 0.9) << alpha_share;
  // Both are called from main.main, as the folded stacks show.
  std::string folded = test::folded(p);
  EXPECT_NE(folded.find("main.main;main.burnAlpha "), std::string::npos) << folded;
  EXPECT_NE(folded.find("main.main;main.burnBeta "), std::string::npos) << folded;
}

TEST_F(GoCpuProfile, PprofAgreesAndSeesTheSameProfileReencodedByEmber) {
  expect_top_agrees(profile_, file_, 0);
  expect_top_agrees(profile_, file_, 1);
  std::string reencoded = write_encoded(dir_, "reencoded.pb.gz", profile_);
  EXPECT_EQ(pprof({"-raw"}, reencoded), pprof({"-raw"}, file_));
  EXPECT_EQ(raw_body(pprof({"-raw"}, file_)), expected_raw_body(profile_));
}

}  // namespace
}  // namespace ember::proto
