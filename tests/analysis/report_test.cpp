#include "analysis/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "profile/builder.h"

namespace ember::analysis {
namespace {

using profile::Line;
using profile::LocationId;
using profile::MappingId;
using profile::ProfileBuilder;

// main → a → b → b (recursion)          40
// main → outer, with inl inlined         30   (one location, two lines)
// main → a                               15
// main → sys_read (kernel)                6
// main → c                                5
// main → d                                4
// Values: samples/count and cpu/nanoseconds (10 ms per sample); no default_sample_type, so the
// pprof default is the last type, cpu.
profile::Profile hand_built() {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                           {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  profile::Mapping app;
  app.filename = b.intern("/usr/bin/app");
  app.memory_limit = 0x10000;
  app.has_functions = true;
  MappingId app_id = b.add_mapping(app);
  profile::Mapping kernel;
  kernel.filename = b.intern("[kernel.kallsyms]");
  kernel.kind = profile::MappingKind::kKernel;
  kernel.has_functions = true;
  MappingId kernel_id = b.add_mapping(kernel);

  uint64_t next_address = 0x100;
  auto loc = [&](MappingId m, std::initializer_list<std::string_view> innermost_first) {
    std::vector<Line> lines;
    for (std::string_view name : innermost_first) {
      lines.push_back(Line{b.add_function(name, name, "app.cc"), 1, 0});
    }
    return b.add_location(m, next_address += 0x10, lines);
  };
  LocationId main = loc(app_id, {"main"});
  LocationId a = loc(app_id, {"a"});
  LocationId b_outer_call = loc(app_id, {"b"});
  LocationId b_leaf = loc(app_id, {"b"});
  LocationId inl = loc(app_id, {"inl", "outer"});
  LocationId c = loc(app_id, {"c"});
  LocationId d = loc(app_id, {"d"});
  LocationId sys = loc(kernel_id, {"sys_read"});

  profile::Label labels[] = {{b.intern("comm"), b.intern("app"), 0, {}},
                             {b.intern("pid"), {}, 42, {}}};
  auto add = [&](std::initializer_list<LocationId> leaf_first, int64_t count) {
    std::vector<LocationId> stack(leaf_first);
    int64_t values[] = {count, count * 10'000'000};
    b.add_sample(stack, values, labels);
  };
  add({b_leaf, b_outer_call, a, main}, 40);
  add({inl, main}, 30);
  add({a, main}, 15);
  add({sys, main}, 6);
  add({c, main}, 5);
  add({d, main}, 4);
  return std::move(b).finish();
}

const FunctionStats* find(const std::vector<FunctionStats>& v, std::string_view name) {
  for (const auto& f : v) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(Report, SelfAndTotalFollowPprofDefinitions) {
  auto report = make_report(hand_built(), {.sample_type = "samples", .top = 0, .hot_paths = 0});
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->sample_type, "samples");
  EXPECT_EQ(report->unit, "count");
  EXPECT_EQ(report->total, 100);
  EXPECT_EQ(report->function_count, 8u);
  EXPECT_EQ(report->path_count, 6u);

  std::vector<std::tuple<std::string, int64_t, int64_t>> by_self;
  for (const auto& f : report->top_self) by_self.emplace_back(f.name, f.self, f.total);
  // b recurses: its total is 40, not 80. inl is a function of its own and the leaf of its
  // location; outer holds it. The kernel frame is named as the flamegraph names it.
  std::vector<std::tuple<std::string, int64_t, int64_t>> want_self = {
      {"b", 40, 40}, {"inl", 30, 30}, {"a", 15, 55},    {"sys_read_[k]", 6, 6},
      {"c", 5, 5},   {"d", 4, 4},     {"main", 0, 100}, {"outer", 0, 30}};
  EXPECT_EQ(by_self, want_self);

  std::vector<std::string> by_total;
  for (const auto& f : report->top_total) by_total.push_back(f.name);
  EXPECT_EQ(by_total,
            (std::vector<std::string>{"main", "a", "b", "inl", "outer", "sys_read_[k]", "c", "d"}));
  // The process-name root ("app") is not a function.
  EXPECT_EQ(find(report->top_self, "app"), nullptr);
  EXPECT_DOUBLE_EQ(find(report->top_total, "a")->total_share, 0.55);
}

TEST(Report, PythonFunctionsAreCountedOnceWhateverLineTheyRan) {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}};
  b.set_sample_types(types);
  profile::Mapping py;
  py.filename = b.intern(profile::kPythonMappingName);
  py.kind = profile::MappingKind::kPython;
  MappingId py_id = b.add_mapping(py);
  auto f_main = b.add_function("main", "main", "/srv/app.py", 10);
  auto f_work = b.add_function("work", "work", "/srv/app.py", 20);
  auto loc = [&](profile::FunctionId f, int64_t line, uint64_t address) {
    Line l[] = {{f, line, 0}};
    return b.add_location(py_id, address, l);
  };
  LocationId main12 = loc(f_main, 12, 1);
  LocationId work21 = loc(f_work, 21, 2);
  LocationId work22 = loc(f_work, 22, 3);
  auto add = [&](std::initializer_list<LocationId> leaf_first, int64_t count) {
    std::vector<LocationId> stack(leaf_first);
    int64_t values[] = {count};
    b.add_sample(stack, values, {});
  };
  add({work21, main12}, 6);
  add({work22, main12}, 3);
  add({main12}, 1);
  auto report = make_report(std::move(b).finish(), {.top = 0, .hot_paths = 0});
  ASSERT_TRUE(report) << report.error().message();
  std::vector<std::tuple<std::string, int64_t, int64_t>> rows;
  for (const auto& f : report->top_self) rows.emplace_back(f.name, f.self, f.total);
  EXPECT_EQ(rows, (std::vector<std::tuple<std::string, int64_t, int64_t>>{{"work (app.py)", 9, 9},
                                                                          {"main (app.py)", 1, 10}}));
}

TEST(Report, SeverityClassesIncludeTheirLowerBound) {
  auto report = make_report(hand_built(), {.sample_type = "samples", .top = 0});
  ASSERT_TRUE(report);
  auto severity = [&](std::string_view name) { return find(report->top_self, name)->severity; };
  EXPECT_EQ(severity("b"), Severity::kCritical);           // 40%
  EXPECT_EQ(severity("inl"), Severity::kCritical);         // exactly 30%
  EXPECT_EQ(severity("a"), Severity::kHigh);               // exactly 15%
  EXPECT_EQ(severity("sys_read_[k]"), Severity::kMedium);  // 6%
  EXPECT_EQ(severity("c"), Severity::kMedium);             // exactly 5%
  EXPECT_EQ(severity("d"), Severity::kLow);                // 4%
  EXPECT_EQ(severity("main"), Severity::kLow);             // 0% self, 100% total
  EXPECT_EQ(severity_of(0.2999), Severity::kHigh);
  EXPECT_EQ(severity_of(0.1499), Severity::kMedium);
  EXPECT_EQ(severity_of(0.0499), Severity::kLow);
}

TEST(Report, HotPathsOrderedByValueRootFirst) {
  auto report = make_report(hand_built(), {.sample_type = "samples", .hot_paths = 3});
  ASSERT_TRUE(report);
  ASSERT_EQ(report->hot_paths.size(), 3u);
  EXPECT_EQ(report->hot_paths[0].frames, (std::vector<std::string>{"main", "a", "b", "b"}));
  EXPECT_EQ(report->hot_paths[0].value, 40);
  EXPECT_EQ(report->hot_paths[1].frames, (std::vector<std::string>{"main", "outer", "inl"}));
  EXPECT_EQ(report->hot_paths[2].frames, (std::vector<std::string>{"main", "a"}));
  EXPECT_DOUBLE_EQ(report->hot_paths[2].share, 0.15);
  EXPECT_EQ(report->path_count, 6u);
}

TEST(Report, DefaultSampleTypeIsThePprofDefault) {
  auto report = make_report(hand_built());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->sample_type, "cpu");
  EXPECT_EQ(report->unit, "nanoseconds");
  EXPECT_EQ(report->total, 1'000'000'000);
  EXPECT_EQ(report->top_self[0].self, 400'000'000);
  EXPECT_DOUBLE_EQ(report->top_self[0].self_share, 0.4);

  auto missing = make_report(hand_built(), {.sample_type = "alloc_space"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "no sample type 'alloc_space' (the profile has: samples, cpu)");
}

TEST(Report, TextTablesAreAligned) {
  auto report = make_report(hand_built(), {.sample_type = "samples", .top = 3, .hot_paths = 2});
  ASSERT_TRUE(report);
  EXPECT_EQ(format_report_text(*report),
            "samples (count): total 100 samples, 8 functions, 6 distinct stacks\n"
            "\n"
            "Findings (4):\n"
            "  critical  One function: b: 40.00% (40)\n"
            "            from: a 40.00%\n"
            "            hottest path: main;a;b;b\n"
            "  critical  One function: inl: 30.00% (30)\n"
            "            from: outer 30.00%\n"
            "            hottest path: main;outer;inl\n"
            "  high      One function: a: 15.00% (15)\n"
            "            from: main 15.00%\n"
            "            hottest path: main;a\n"
            "  medium    System calls and kernel time: 6.00% (6)\n"
            "            in: sys_read_[k] 6.00%\n"
            "            from: main 6.00%\n"
            "            try: make fewer system calls (larger reads and writes, batching, fewer polls); the "
            "frames named say which calls and which faults\n"
            "\n"
            "By self (top 3 of 8 functions):\n"
            "  self   self%  total  total%  severity  function\n"
            "    40  40.00%     40  40.00%  critical  b\n"
            "    30  30.00%     30  30.00%  critical  inl\n"
            "    15  15.00%     55  55.00%  high      a\n"
            "\n"
            "By total (top 3 of 8 functions):\n"
            "  total   total%  self   self%  function\n"
            "    100  100.00%     0   0.00%  main\n"
            "     55   55.00%    15  15.00%  a\n"
            "     40   40.00%    40  40.00%  b\n"
            "\n"
            "Hottest paths (top 2 of 6):\n"
            "  value   share  path (root first)\n"
            "     40  40.00%  main;a;b;b\n"
            "     30  30.00%  main;outer;inl\n");
}

TEST(Report, TextShowsTimeInHumanUnits) {
  auto report = make_report(hand_built(), {.top = 1, .hot_paths = 1});
  ASSERT_TRUE(report);
  std::string text = format_report_text(*report);
  EXPECT_NE(text.find("cpu (nanoseconds): total 1.00s, 8 functions, 6 distinct stacks\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  400.00ms  40.00%  400.00ms  40.00%  critical  b\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  1.00s  100.00%   0ns  0.00%  main\n"), std::string::npos) << text;
}

TEST(Report, EmptyProfileHasNoRowsAndNoDivisionByZero) {
  profile::Profile empty;
  empty.sample_types.push_back({empty.strings.intern("samples"), empty.strings.intern("count")});
  auto report = make_report(empty);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->total, 0);
  EXPECT_EQ(report->function_count, 0u);
  EXPECT_TRUE(report->top_self.empty());
  EXPECT_TRUE(report->hot_paths.empty());
  EXPECT_EQ(format_report_text(*report).substr(0, 68),
            "samples (count): total 0 samples, 0 functions, 0 distinct stacks\n\nBy");
}

TEST(Report, JsonFieldsAreStable) {
  auto report = make_report(hand_built(), {.sample_type = "samples", .top = 2, .hot_paths = 1});
  ASSERT_TRUE(report);
  nlohmann::json j = nlohmann::json::parse(format_report_json(*report));
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["sample_type"], "samples");
  EXPECT_EQ(j["unit"], "count");
  EXPECT_EQ(j["total"], 100);
  EXPECT_EQ(j["function_count"], 8);
  EXPECT_EQ(j["path_count"], 6);
  EXPECT_DOUBLE_EQ(j["severity_thresholds"]["critical"].get<double>(), 0.30);
  EXPECT_DOUBLE_EQ(j["severity_thresholds"]["high"].get<double>(), 0.15);
  EXPECT_DOUBLE_EQ(j["severity_thresholds"]["medium"].get<double>(), 0.05);
  ASSERT_EQ(j["top_self"].size(), 2u);
  EXPECT_EQ(j["top_self"][0], nlohmann::json({{"name", "b"},
                                              {"self", 40},
                                              {"self_share", 0.4},
                                              {"total", 40},
                                              {"total_share", 0.4},
                                              {"severity", "critical"}}));
  EXPECT_EQ(j["top_total"][0]["name"], "main");
  EXPECT_DOUBLE_EQ(j["top_total"][0]["total_share"].get<double>(), 1.0);
  EXPECT_EQ(j["top_total"][0]["severity"], "low");
  ASSERT_EQ(j["hot_paths"].size(), 1u);
  EXPECT_EQ(j["hot_paths"][0]["frames"], nlohmann::json({"main", "a", "b", "b"}));
  EXPECT_EQ(j["hot_paths"][0]["value"], 40);
  EXPECT_DOUBLE_EQ(j["hot_paths"][0]["share"].get<double>(), 0.4);
}

}  // namespace
}  // namespace ember::analysis
