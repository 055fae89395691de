// speedscope's file format: one sampled profile per thread, in time order from a timeline,
// frames with file and line, inlined functions as frames of their own.

#include "flamegraph/speedscope.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "profile/builder.h"

namespace ember::flamegraph {
namespace {

using nlohmann::json;
using namespace ember::profile;

// main -> run (inlined into main at app.c:12) -> {alpha at app.c:30, beta at app.c:40};
// thread 11 "worker" and thread 10 "app"; samples/count and cpu/nanoseconds.
Profile make_profile() {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().time_nanos = 1'000'000'000;
  auto main_f = b.add_function("main", "main", "app.c");
  auto run_f = b.add_function("run", "run", "app.c");
  auto alpha_f = b.add_function("alpha", "alpha", "app.c");
  auto beta_f = b.add_function("beta", "beta", "app.c");
  Line main_lines[] = {{run_f, 20, 0}, {main_f, 12, 0}};  // innermost first
  Line alpha_line[] = {{alpha_f, 30, 0}};
  Line beta_line[] = {{beta_f, 40, 0}};
  auto main_loc = b.add_location(MappingId{}, 0x100, main_lines);
  auto alpha_loc = b.add_location(MappingId{}, 0x200, alpha_line);
  auto beta_loc = b.add_location(MappingId{}, 0x300, beta_line);
  auto labels = [&](int64_t tid, std::string_view thread) {
    return std::vector<Label>{{b.intern(kLabelPid), {}, 10, {}},
                              {b.intern(kLabelTid), {}, tid, {}},
                              {b.intern(kLabelComm), b.intern("app"), 0, {}},
                              {b.intern(kLabelThreadComm), b.intern(thread), 0, {}}};
  };
  LocationId alpha_stack[] = {alpha_loc, main_loc};
  LocationId beta_stack[] = {beta_loc, main_loc};
  int64_t three[] = {3, 3'000'000};
  int64_t one[] = {1, 1'000'000};
  b.add_sample(alpha_stack, three, labels(10, "app"));     // sample 0
  b.add_sample(beta_stack, one, labels(10, "app"));        // sample 1
  b.add_sample(beta_stack, three, labels(11, "worker"));   // sample 2
  return std::move(b).finish();
}

json render(const Profile& p, SpeedscopeOptions options = {}) {
  auto text = render_speedscope(p, options);
  EXPECT_TRUE(text) << text.error().message();
  return text ? json::parse(*text) : json();
}

// The frame names of a speedscope stack.
std::vector<std::string> names(const json& doc, const json& stack) {
  std::vector<std::string> out;
  for (const json& i : stack) out.push_back(doc["shared"]["frames"][i.get<size_t>()]["name"]);
  return out;
}

TEST(Speedscope, ATimelineGivesOneProfilePerThreadInTimeOrder) {
  Profile p = make_profile();
  // app: alpha, beta, alpha, alpha; worker: beta x3. Out of order on purpose.
  p.timeline = {{1'004'000'000, 0}, {1'001'000'000, 0}, {1'002'000'000, 1}, {1'003'000'000, 0},
                {1'001'500'000, 2}, {1'002'500'000, 2}, {1'003'500'000, 2}};
  json doc = render(p);
  EXPECT_EQ(doc["$schema"], "https://www.speedscope.app/file-format-schema.json");
  ASSERT_EQ(doc["profiles"].size(), 2u);
  const json& app = doc["profiles"][0];
  EXPECT_EQ(app["name"], "app (tid 10)");
  EXPECT_EQ(app["type"], "sampled");
  EXPECT_EQ(app["unit"], "nanoseconds");
  EXPECT_EQ(app["startValue"], 1'000'000);  // first sample 1 ms after the recording started
  EXPECT_EQ(app["endValue"], 1'000'000 + 4 * 1'000'000);
  ASSERT_EQ(app["samples"].size(), 4u);
  std::vector<std::string> leaves;
  for (const json& s : app["samples"]) leaves.push_back(names(doc, s).back());
  EXPECT_EQ(leaves, (std::vector<std::string>{"alpha", "beta", "alpha", "alpha"}));
  EXPECT_EQ(names(doc, app["samples"][0]), (std::vector<std::string>{"main", "run", "alpha"}));
  EXPECT_EQ(app["weights"], json({1'000'000, 1'000'000, 1'000'000, 1'000'000}));
  const json& worker = doc["profiles"][1];
  EXPECT_EQ(worker["name"], "worker (tid 11)");
  EXPECT_EQ(worker["samples"].size(), 3u);
}

TEST(Speedscope, FramesCarryFileAndLine) {
  Profile p = make_profile();
  p.timeline = {{1'001'000'000, 0}};
  json doc = render(p);
  bool found = false;
  for (const json& f : doc["shared"]["frames"]) {
    if (f["name"] == "alpha") {
      EXPECT_EQ(f["file"], "app.c");
      EXPECT_EQ(f["line"], 30);
      found = true;
    }
  }
  EXPECT_TRUE(found) << doc.dump();
}

TEST(Speedscope, WithoutATimelineEachStackIsWeightedByItsValue) {
  // The pprof default (no default_sample_type: the last type, cpu/nanoseconds).
  json doc = render(make_profile());
  ASSERT_EQ(doc["profiles"].size(), 2u);
  const json& app = doc["profiles"][0];
  EXPECT_EQ(app["name"], "app (tid 10)");
  EXPECT_EQ(app["unit"], "nanoseconds");
  EXPECT_EQ(app["weights"], json({3'000'000, 1'000'000}));
  EXPECT_EQ(app["endValue"], 4'000'000);
  SpeedscopeOptions samples;
  samples.value_index = 0;
  json by_count = render(make_profile(), samples);
  EXPECT_EQ(by_count["profiles"][0]["unit"], "none");  // samples/count
  EXPECT_EQ(by_count["profiles"][0]["weights"], json({3, 1}));
  EXPECT_EQ(by_count["profiles"][1]["weights"], json({3}));
}

TEST(Speedscope, OutputPastTheLimitIsRefused) {
  SpeedscopeOptions small;
  small.max_bytes = 100;
  auto text = render_speedscope(make_profile(), small);
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message().find("more than the limit of 100 bytes (--max-output-bytes raises it)"),
            std::string::npos)
      << text.error().message();
}

}  // namespace
}  // namespace ember::flamegraph
