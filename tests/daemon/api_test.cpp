// The API without a network: real store, live window and query engine, a test double for the
// symbolizer, requests handed straight to Api::handle.

#include "daemon/api.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <nlohmann/json.hpp>

#include "daemon/live_window.h"
#include "daemon/query_engine.h"
#include "daemon/snapshot_store.h"
#include "daemon/url.h"
#include "profiles.h"
#include "proto/pprof.h"
#include "test_support.h"
#include "tests/support/fake_symbolizer.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;

class FakeStatus : public StatusSource {
 public:
  DaemonStatus status() const override {
    DaemonStatus s;
    s.version = "test";
    s.started = unix_now_ns() - 5'000'000'000;
    s.collector.running = running;
    s.collector.event = "cpu-clock";
    s.collector.frequency_hz = 99;
    s.collector.call_graph = "fp";
    s.collector.targets = "all processes";
    s.collector.stats.samples = 1234;
    s.collector.stats.dwarf_no_cfi = 17;
    s.collector.stats.dwarf_to_root = 900;
    s.collector.stats.processes = 12;
    s.collector.off_cpu = off_cpu;
    s.store.degraded = degraded;
    s.store.last_error = degraded ? "disk full: No space left on device" : "";
    s.http.stuck_workers = stuck ? 1 : 0;
    s.http.stuck_query = stuck ? "GET /api/v1/folded?from=-7d (31.0 s)" : "";
    s.debuginfod_enabled = debuginfod;
    s.debuginfod.fetched = 3;
    s.debuginfod.missing = 2;
    s.debuginfod.skipped = 40;
    return s;
  }
  bool debuginfod = false;
  bool running = true;
  bool degraded = false;
  bool off_cpu = false;
  bool stuck = false;
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SnapshotStore::open(dir_.path(), {});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    const UnixNanos now = unix_now_ns();
    // Two stored windows in the last hour, one three hours ago.
    add_snapshot(now - 3 * 3600 * kSecond, {{7, "old", {"main", "ancient"}, 4}});
    add_snapshot(now - 20 * 60 * kSecond, {{10, "nginx", {"main", "serve"}, 5}, {20, "postgres", {"main", "query"}, 7}});
    add_snapshot(now - 10 * 60 * kSecond, {{10, "nginx", {"main", "serve"}, 5},
                                           {30, "<script>x</script>", {"main", "evil"}, 1}});
    ASSERT_TRUE(store_->write_pending());
    // The live window: pid 40 "live" at offsets 0x10 <- 0x20.
    profile::RawProfile raw;
    auto module = std::make_shared<profile::Module>();
    module->path = "/usr/bin/live";
    profile::ModuleId m = raw.add_module(module);
    profile::RawFrame frames[] = {{m, 0x10}, {m, 0x20}};
    raw.add_sample(profile::SampleOrigin{40, 40, raw.intern("live"), raw.intern("live")}, frames, 10'000'000, 3);
    live_.add(raw);
    queries_ = std::make_unique<QueryEngine>(*store_, live_, symbols_, handoff_, 64 << 20, 1'000'000);
    api_ = std::make_unique<Api>(*queries_, status_, ApiOptions{"testhost", std::chrono::hours(24 * 7)});
  }

  void add_snapshot(UnixNanos start, const std::vector<test::FakeSample>& samples) {
    store_->add(start, start + 60 * kSecond, std::make_shared<const std::string>(test::make_snapshot_bytes(samples)));
  }

  HttpResponse get(const std::string& target, std::shared_ptr<QueryControl> control = nullptr) {
    return api_->handle(HttpRequest{"GET", target, "test", std::move(control)});
  }

  std::string header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  static constexpr UnixNanos kSecond = 1'000'000'000;
  test::TempDir dir_;
  std::unique_ptr<SnapshotStore> store_;
  LiveWindow live_{1 << 16};
  ember::testing::FakeSymbolizer symbols_{"fn_"};  // names every address "fn_<offset in hex>"
  std::mutex handoff_;
  FakeStatus status_;
  std::unique_ptr<QueryEngine> queries_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, FoldedMergesStoredSnapshotsAndTheLiveWindow) {
  HttpResponse r = get("/api/v1/folded");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("nginx;main;serve 10"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("postgres;main;query 7"), std::string::npos);
  EXPECT_NE(r.body.find("live;fn_20;fn_10 3"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("ancient"), std::string::npos);  // outside the last hour
  EXPECT_NE(header(r, "Content-Disposition").find("filename=\"emberd-testhost-"), std::string::npos);

  HttpResponse old = get("/api/v1/folded?from=-4h&to=-2h");
  ASSERT_EQ(old.status, 200);
  EXPECT_EQ(old.body, "old;main;ancient 4\n");
}

TEST_F(ApiTest, RepeatedQueriesUseTheDecodedSnapshots) {
  ASSERT_EQ(get("/api/v1/folded").status, 200);
  QueryStats first = queries_->stats();
  EXPECT_EQ(first.snapshots_decoded, 2u);  // the two stored windows of the last hour
  ASSERT_EQ(get("/api/v1/flamegraph.svg?pid=10").status, 200);
  ASSERT_EQ(get("/api/v1/report.json").status, 200);
  QueryStats later = queries_->stats();
  EXPECT_EQ(later.snapshots_decoded, 2u);
  EXPECT_GE(later.cache_hits, 4u);
  EXPECT_GT(later.cache_bytes, 0u);
  // A cache too small for any snapshot decodes every time, and still answers.
  queries_->set_limits(1, 1'000'000);
  EXPECT_EQ(queries_->stats().cache_entries, 0u);
  ASSERT_EQ(get("/api/v1/folded").status, 200);
  EXPECT_EQ(queries_->stats().snapshots_decoded, 4u);
}

TEST_F(ApiTest, FiltersByPidCommAndLabel) {
  EXPECT_EQ(get("/api/v1/folded?pid=20").body, "postgres;main;query 7\n");
  EXPECT_EQ(get("/api/v1/folded?pid=20,40").body, "live;fn_20;fn_10 3\npostgres;main;query 7\n");
  EXPECT_EQ(get("/api/v1/folded?comm=%5Enginx%24").body, "nginx;main;serve 10\n");
  EXPECT_EQ(get("/api/v1/folded?label=thread_comm:postgres").body, "postgres;main;query 7\n");
  EXPECT_EQ(get("/api/v1/folded?pid=999").body, "");
}

TEST_F(ApiTest, CommPatternsCannotBacktrack) {
  // Finding 1 of issue 16: with std::regex this query held the only worker for minutes on a
  // 15-character name. RE2 answers at once (the ctest TIMEOUT catches a regression).
  add_snapshot(unix_now_ns() - 5 * 60 * kSecond, {{60, std::string(24, 'a'), {"main", "spin"}, 2}});
  HttpResponse r = get("/api/v1/folded?comm=(.*)*(.*)*(.*)*x");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "<script>x</script>;main;evil 1\nnginx;main;serve 10\n");
  HttpResponse spin = get("/api/v1/folded?comm=%5E(a%2B)%2B%24");
  ASSERT_EQ(spin.status, 200) << spin.body;
  EXPECT_EQ(spin.body, "aaaaaaaaaaaaaaaaaaaaaaaa;main;spin 2\n");
  // What RE2 cannot do in linear time is refused, naming the pattern.
  HttpResponse backref = get("/api/v1/folded?comm=(a)%5C1");
  EXPECT_EQ(backref.status, 400);
  EXPECT_EQ(backref.body.rfind("comm: invalid regex '(a)\\1': ", 0), 0u) << backref.body;
}

TEST_F(ApiTest, AllFormatsOfTheSameAnswer) {
  HttpResponse svg = get("/api/v1/flamegraph.svg?pid=10&title=t");
  ASSERT_EQ(svg.status, 200);
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_NE(svg.body.find("serve"), std::string::npos);
  EXPECT_NE(header(svg, "Content-Disposition").find(".svg\""), std::string::npos);
  EXPECT_NE(header(svg, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);

  HttpResponse pb = get("/api/v1/profile.pb.gz?pid=10");
  ASSERT_EQ(pb.status, 200);
  EXPECT_NE(header(pb, "Content-Disposition").find("attachment; filename=\"emberd-testhost-"), std::string::npos);
  auto decoded = proto::decode(pb.body, "answer");
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->total(0), 10);
  // Every mapping says it has functions: `go tool pprof URL` must not go asking a /symbolz.
  ASSERT_FALSE(decoded->mappings.empty());
  for (const auto& m : decoded->mappings) EXPECT_TRUE(m.has_functions);

  HttpResponse report = get("/api/v1/report.json?top=1");
  ASSERT_EQ(report.status, 200);
  auto j = nlohmann::json::parse(report.body);
  EXPECT_EQ(j["top_self"].size(), 1u);
  EXPECT_EQ(j["top_self"][0]["name"], "serve");
  // Findings come with the report: serve (10 of 21 samples) and query (7) are single functions
  // above the thresholds; fn_10 (3 of 21, 14%) is not.
  ASSERT_EQ(j["findings"].size(), 2u) << j["findings"].dump();
  EXPECT_EQ(j["findings"][0]["id"], "hot_function");
  EXPECT_EQ(j["findings"][0]["title"], "serve");
  EXPECT_EQ(j["findings"][0]["severity"], "critical");
  EXPECT_DOUBLE_EQ(j["findings"][0]["share"].get<double>(), 10.0 / 21);
  EXPECT_EQ(j["findings"][0]["path"], nlohmann::json::array({"main", "serve"}));
  EXPECT_EQ(j["findings"][1]["title"], "query");

  HttpResponse diff = get("/api/v1/diff.svg?from=-15m&base_from=-30m&base_to=-15m");
  ASSERT_EQ(diff.status, 200) << diff.body;
  EXPECT_NE(diff.body.find("<svg"), std::string::npos);
}

// "What changed": yesterday's hour against today's, each snapshot one run, as `ember compare`.
TEST_F(ApiTest, CompareFlagsTheFunctionThatGrewBetweenTwoRanges) {
  const UnixNanos now = unix_now_ns();
  // Four one-minute snapshots 10 hours ago: parse a third of the time; four 8 hours ago: parse
  // half of it. serve stays at 400 samples a minute; nginx's pid 10 is also in other windows.
  for (int i = 0; i < 4; ++i) {
    add_snapshot(now - 10 * 3600 * kSecond + i * 60 * kSecond,
                 {{10, "nginx", {"main", "serve"}, 400}, {10, "nginx", {"main", "parse"}, 200 + i}});
    add_snapshot(now - 8 * 3600 * kSecond + i * 60 * kSecond,
                 {{10, "nginx", {"main", "serve"}, 400}, {10, "nginx", {"main", "parse"}, 400 + i}});
  }
  ASSERT_TRUE(store_->write_pending());
  HttpResponse r = get("/api/v1/compare?from=-8h5m&to=-7h&base_from=-10h5m&base_to=-9h");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["regressed"], true);
  EXPECT_EQ(j["runs"]["baseline"].size(), 4u);
  EXPECT_EQ(j["runs"]["current"].size(), 4u);
  EXPECT_EQ(j["settings"]["fixed_workload"], false);  // windows of a server: shares only
  bool parse_regressed = false, serve_improved = false;
  for (const auto& f : j["functions"]) {
    if (f["name"] == "parse" && f["kind"] == "self") {
      parse_regressed = f["verdict"] == "regression";
      // The mean of the runs' shares.
      double base = 0, current = 0;
      for (int i = 0; i < 4; ++i) {
        base += (200.0 + i) / (600.0 + i) / 4;
        current += (400.0 + i) / (800.0 + i) / 4;
      }
      EXPECT_NEAR(f["baseline_share"].get<double>(), base, 1e-12);
      EXPECT_NEAR(f["current_share"].get<double>(), current, 1e-12);
    }
    if (f["name"] == "serve" && f["kind"] == "self") serve_improved = f["verdict"] == "improvement";
  }
  EXPECT_TRUE(parse_regressed) << r.body;
  EXPECT_TRUE(serve_improved) << r.body;
  EXPECT_TRUE(j["ranges"]["base"]["from"].is_string());

  // The same answer as a pull-request comment would show it.
  HttpResponse md = get("/api/v1/compare?from=-8h5m&to=-7h&base_from=-10h5m&base_to=-9h&format=markdown");
  ASSERT_EQ(md.status, 200) << md.body;
  EXPECT_EQ(md.content_type, "text/markdown; charset=utf-8");
  EXPECT_TRUE(md.body.starts_with("### ❌")) << md.body.substr(0, 200);
  EXPECT_NE(md.body.find("parse"), std::string::npos);

  // Filtered to a process that is in neither range: nothing to compare, said plainly.
  HttpResponse empty = get("/api/v1/compare?from=-8h5m&to=-7h&base_from=-10h5m&base_to=-9h&pid=20");
  EXPECT_EQ(empty.status, 422);
  EXPECT_TRUE(empty.body.starts_with("no profile with samples in base_from..base_to (")) << empty.body;
  EXPECT_NE(empty.body.find(") for pid=20: nothing to compare"), std::string::npos) << empty.body;
  // Bad settings are 400s naming the parameter.
  for (auto [target, why] : {std::pair{"/api/v1/compare?threshold=ten", "threshold: "},
                             std::pair{"/api/v1/compare?confidence=150%25", "confidence"},
                             std::pair{"/api/v1/compare?format=xml", "format: 'xml' is not json or markdown"},
                             std::pair{"/api/v1/compare?base_from=-1h&base_to=-2h", "base_from must be before base_to"},
                             std::pair{"/api/v1/compare?treshold=10%25", "unknown parameter 'treshold'"}}) {
    HttpResponse bad = get(target);
    EXPECT_EQ(bad.status, 400) << target << ": " << bad.body;
    EXPECT_NE(bad.body.find(why), std::string::npos) << target << ": " << bad.body;
  }
}

TEST_F(ApiTest, TargetsAndTheIndexPage) {
  HttpResponse t = get("/api/v1/targets");
  ASSERT_EQ(t.status, 200);
  auto j = nlohmann::json::parse(t.body);
  std::map<int, uint64_t> samples;
  for (const auto& p : j["processes"]) samples[p["pid"].get<int>()] = p["samples"].get<uint64_t>();
  EXPECT_EQ(samples[10], 10u);
  EXPECT_EQ(samples[20], 7u);
  EXPECT_EQ(samples[40], 3u);
  EXPECT_FALSE(samples.contains(7));

  HttpResponse index = get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("\"api/v1/flamegraph.svg?from=-1h&amp;pid=10\""), std::string::npos);
  EXPECT_NE(index.body.find("comm=%5Enginx%24"), std::string::npos);
  // A process name is data, never markup.
  EXPECT_EQ(index.body.find("<script>x"), std::string::npos);
  EXPECT_NE(index.body.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(get("/?from=-15m").status, 200);
}

TEST_F(ApiTest, TheDashboardIsItsTemplateFilledAndItsOwnScriptAndStyle) {
  HttpResponse index = get("/?from=-15m");
  ASSERT_EQ(index.status, 200);
  // Every placeholder of ui/index.html is filled.
  EXPECT_EQ(index.body.find("{{"), std::string::npos) << index.body;
  EXPECT_NE(index.body.find("<title>emberd · testhost</title>"), std::string::npos);
  EXPECT_NE(index.body.find("<option value=\"-15m\" selected>"), std::string::npos);
  EXPECT_NE(index.body.find("href=\"api/v1/flamegraph.svg?from=-15m\""), std::string::npos);
  EXPECT_NE(index.body.find("<tr data-pid=\"10\">"), std::string::npos);
  // Scripts come from emberd's own files only: no inline script, and the policy allows none.
  const std::string policy = header(index, "Content-Security-Policy");
  EXPECT_NE(policy.find("script-src 'self';"), std::string::npos) << policy;
  EXPECT_NE(policy.find("connect-src 'self';"), std::string::npos) << policy;
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
  for (size_t at = index.body.find("<script"); at != std::string::npos; at = index.body.find("<script", at + 1)) {
    EXPECT_EQ(index.body.compare(at, 13, "<script src=\""), 0) << index.body.substr(at, 40);
  }
  // Each file the page names is served, with its type. The page's links are relative, so that it
  // works behind a reverse proxy under a path prefix: none starts with '/'.
  EXPECT_EQ(index.body.find("href=\"/"), std::string::npos);
  EXPECT_EQ(index.body.find("src=\"/"), std::string::npos);
  EXPECT_EQ(index.body.find("action=\"/"), std::string::npos);
  const std::pair<std::string, std::string> files[] = {{"/ui/dashboard.js", "text/javascript; charset=utf-8"},
                                                       {"/ui/dashboard.css", "text/css; charset=utf-8"}};
  for (const auto& [path, type] : files) {
    EXPECT_NE(index.body.find("\"" + path.substr(1) + "\""), std::string::npos) << path;
    HttpResponse f = get(path);
    EXPECT_EQ(f.status, 200) << path;
    EXPECT_EQ(f.content_type, type) << path;
    EXPECT_GT(f.body.size(), 1000u) << path;
    EXPECT_TRUE(Api::is_cheap(path));
  }
  EXPECT_NE(get("/ui/dashboard.js").body.find("'api/v1/series'"), std::string::npos);
  // The template is no file of its own, and nothing else is under /ui/.
  for (const char* path : {"/ui/index.html", "/ui/missing.js", "/ui/", "/ui/dashboard.js.map"}) {
    EXPECT_EQ(get(path).status, 404) << path;
  }
}

TEST_F(ApiTest, HostileNamesAreAnsweredNotFailed) {
  // Names come from binaries and /proc: invalid UTF-8 and markup are data like any other.
  add_snapshot(unix_now_ns() - 5 * 60 * kSecond, {{50, "ev\xffil", {"main", "f\xfe\xff<b>"}, 2}});
  for (const char* target : {"/api/v1/report.json", "/api/v1/targets", "/api/v1/folded", "/api/v1/flamegraph.svg", "/"}) {
    HttpResponse r = get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body.substr(0, 200);
  }
  EXPECT_NO_THROW(nlohmann::json::parse(get("/api/v1/report.json").body));
}

TEST_F(ApiTest, BadRequestsSayWhy) {
  auto expect_400 = [&](const std::string& target, const std::string& why) {
    HttpResponse r = get(target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    EXPECT_NE(r.body.find(why), std::string::npos) << target << ": " << r.body;
  };
  expect_400("/api/v1/flamegraph.svg?from=yesterday", "from: cannot read 'yesterday' as a time");
  expect_400("/api/v1/folded?from=-1h&to=-2h", "must be before");
  expect_400("/api/v1/folded?from=-30d", "http.max_range");
  expect_400("/api/v1/folded?form=-1h", "unknown parameter 'form'");
  expect_400("/api/v1/folded?from=-1h&from=-2h", "given more than once");
  expect_400("/api/v1/folded?pid=abc", "pid:");
  expect_400("/api/v1/folded?pid=-1", "pid:");
  expect_400("/api/v1/folded?comm=(", "comm:");
  expect_400("/api/v1/folded?comm=(a%7B99%7D)%7B99%7D", "repetition");
  expect_400("/api/v1/folded?label=novalue", "key:value");
  expect_400("/api/v1/folded?from=%zz", "%-escape");
  expect_400("/api/v1/folded?from=%0a", "control characters");
  expect_400("/api/v1/flamegraph.svg?width=5", "width");
  expect_400("/api/v1/report.json?top=0", "top");
  expect_400("/api/v1/../../etc/passwd", "'..'");
  expect_400("/api/v1/%2e%2e/etc/passwd", "%-escapes");
  expect_400("//etc/passwd", "'//'");
  EXPECT_EQ(get("/etc/passwd").status, 404);
  EXPECT_EQ(get("/api/v1/snapshots/20231114T221320.123Z_20231114T222320.000Z.pb.gz").status, 404);
}

TEST_F(ApiTest, SampleTypeChoosesTheValueShown) {
  HttpResponse cpu = get("/api/v1/folded?sample_type=cpu");
  ASSERT_EQ(cpu.status, 200) << cpu.body;
  EXPECT_NE(cpu.body.find("live;fn_20;fn_10 10000000\n"), std::string::npos) << cpu.body;
  HttpResponse samples = get("/api/v1/folded?sample_type=samples");
  EXPECT_NE(samples.body.find("live;fn_20;fn_10 3\n"), std::string::npos) << samples.body;
  EXPECT_EQ(get("/api/v1/flamegraph.svg?sample_type=cpu").status, 200);
  EXPECT_EQ(get("/api/v1/report.json?sample_type=cpu").status, 200);
  EXPECT_EQ(get("/api/v1/profile.pb.gz?sample_type=cpu").status, 200);
  HttpResponse wall = get("/api/v1/folded?sample_type=wall");
  EXPECT_EQ(wall.status, 400);
  EXPECT_NE(wall.body.find("sample_type: no sample type 'wall' (the profile has: samples, cpu)"),
            std::string::npos) << wall.body;
  // The index offers wall and CPU views only when off-CPU time is recorded.
  EXPECT_EQ(get("/").body.find("wall-flamegraph"), std::string::npos);
  status_.off_cpu = true;
  const std::string index = get("/").body;
  EXPECT_NE(index.find("id=\"wall-flamegraph\" href=\"api/v1/flamegraph.svg?from=-1h&amp;sample_type=wall\""),
            std::string::npos) << index;
  EXPECT_NE(index.find("sample_type=cpu"), std::string::npos);
}

TEST_F(ApiTest, TooLargeAnswersAre422) {
  queries_->set_limits(64 << 20, 1000);
  // The whole hour has few samples: still answered.
  EXPECT_EQ(get("/api/v1/folded").status, 200);
  // Many distinct stacks in one window.
  std::vector<test::FakeSample> many;
  for (int i = 0; i < 1500; ++i) many.push_back({100 + i, "w", {"main", "f" + std::to_string(i)}, 1});
  add_snapshot(unix_now_ns() - 5 * 60 * kSecond, many);
  HttpResponse r = get("/api/v1/folded");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("max_query_samples"), std::string::npos);
  EXPECT_EQ(get("/api/v1/folded?pid=10").status, 200);  // a filter makes it small again
}

TEST_F(ApiTest, AnswersLargerThanMaxAnswerBytesAre422) {
  // Finding 4 of issue 16: /api/v1/folded?from=-1h answered 1.03 GB.
  std::vector<test::FakeSample> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back({200 + i, "wide", {"main", "a_rather_long_function_name_number_" + std::to_string(i)}, 1});
  }
  add_snapshot(unix_now_ns() - 5 * 60 * kSecond, many);
  ASSERT_EQ(get("/api/v1/folded").status, 200);
  api_->set_limits(std::chrono::hours(24 * 7), 64 << 10);
  for (const char* target : {"/api/v1/folded", "/api/v1/flamegraph.svg", "/api/v1/report.json?top=1000"}) {
    HttpResponse r = get(target);
    EXPECT_EQ(r.status, 422) << target << ": " << r.body.substr(0, 200);
    EXPECT_NE(r.body.find("more than http.max_answer_bytes (64KiB)"), std::string::npos) << target << ": " << r.body;
    EXPECT_NE(r.body.find("raise http.max_answer_bytes"), std::string::npos) << r.body;
  }
  // A narrower question is answered.
  HttpResponse narrow = get("/api/v1/folded?pid=10");
  EXPECT_EQ(narrow.status, 200);
  EXPECT_EQ(narrow.body, "nginx;main;serve 10\n");
}

TEST_F(ApiTest, TheMergedProfileIsBoundedWhileItGrows) {
  queries_->set_limits(64 << 20, 1'000'000, 64 << 10);
  std::vector<test::FakeSample> many;
  for (int i = 0; i < 2000; ++i) many.push_back({200 + i, "wide", {"main", "f" + std::to_string(i)}, 1});
  add_snapshot(unix_now_ns() - 5 * 60 * kSecond, many);
  HttpResponse r = get("/api/v1/profile.pb.gz");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body.rfind("the merged profile would need more than 64KiB of memory (http.max_query_memory): ", 0), 0u)
      << r.body;
  EXPECT_EQ(get("/api/v1/profile.pb.gz?pid=10").status, 200);
}

TEST_F(ApiTest, AQueryPastItsDeadlineStopsWith503NamingTheLimit) {
  symbols_.delay = 300ms;  // symbolizing the live window: longer than the deadline
  auto control = std::make_shared<QueryControl>(100ms, "http.query_timeout");
  control->begin();
  HttpResponse r = get("/api/v1/flamegraph.svg", control);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.rfind("the query ran longer than http.query_timeout (100ms): ", 0), 0u) << r.body;
  EXPECT_EQ(header(r, "Retry-After"), "10");
  // The same query with time to spare is answered.
  auto patient = std::make_shared<QueryControl>(std::chrono::milliseconds(60'000), "http.query_timeout");
  patient->begin();
  EXPECT_EQ(get("/api/v1/flamegraph.svg", patient).status, 200);
}

TEST_F(ApiTest, ACancelledQueryStops) {
  auto control = std::make_shared<QueryControl>(std::chrono::milliseconds(60'000), "http.query_timeout");
  control->begin();
  control->cancel("the client closed the connection");
  HttpResponse r = get("/api/v1/folded", control);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "query cancelled: the client closed the connection\n");
}

TEST_F(ApiTest, ASnapshotDamagedOnDiskIsQuarantinedAndTheQueryStillAnswers) {
  auto files = test::list_files(dir_.path(), ".pb.gz");
  ASSERT_EQ(files.size(), 3u);
  test::write_text(dir_ / files[2], "\x1f\x8b garbage");  // the newest window
  HttpResponse r = get("/api/v1/folded");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("postgres;main;query 7"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_ / ("quarantine/" + files[2])));
  EXPECT_EQ(store_->stats().quarantined, 1u);
}

TEST_F(ApiTest, HealthAndMetrics) {
  HttpResponse h = get("/healthz");
  ASSERT_EQ(h.status, 200);
  auto j = nlohmann::json::parse(h.body);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["samples"], 1234);
  status_.degraded = true;
  j = nlohmann::json::parse(get("/healthz").body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_NE(j["reasons"][0].get<std::string>().find("disk full"), std::string::npos);
  status_.degraded = false;
  status_.stuck = true;
  j = nlohmann::json::parse(get("/healthz").body);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["reasons"][0], "1 query worker(s) stuck past twice http.query_timeout: GET /api/v1/folded?from=-7d (31.0 s)");
  EXPECT_EQ(j["queries"]["stuck_workers"], 1);
  status_.running = false;
  EXPECT_EQ(get("/healthz").status, 503);

  HttpResponse m = get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(test::metric_value(m.body, "emberd_samples_total"), 1234);
  EXPECT_TRUE(test::metric_value(m.body, "process_resident_memory_bytes").value_or(0) > 0);
  EXPECT_TRUE(test::metric_value(m.body, "process_cpu_seconds_total").has_value());
  EXPECT_NE(m.body.find("# TYPE emberd_samples_total counter"), std::string::npos);
  // The collector's part comes from its stats table, under the names dashboards already use.
  EXPECT_NE(m.body.find("emberd_unwind_failures_total{reason=\"dwarf_no_cfi\"} 17\n"), std::string::npos) << m.body;
  EXPECT_EQ(test::metric_value(m.body, "emberd_dwarf_unwinds_complete_total"), 900);
  EXPECT_EQ(test::metric_value(m.body, "emberd_processes"), 12);
  EXPECT_NE(m.body.find("# TYPE emberd_processes gauge"), std::string::npos);
  size_t family_headers = 0;
  for (size_t at = 0; (at = m.body.find("# TYPE emberd_unwind_failures_total counter", at)) != std::string::npos; ++at) {
    family_headers++;
  }
  EXPECT_EQ(family_headers, 1u);
  EXPECT_EQ(test::metric_value(m.body, "emberd_query_workers_stuck"), 1);
  // A labelled family has its HELP and TYPE once, then every sample.
  EXPECT_NE(m.body.find("# HELP emberd_http_responses_total HTTP responses by status class.\n"
                        "# TYPE emberd_http_responses_total counter\n"
                        "emberd_http_responses_total{code=\"2xx\"} 0\n"
                        "emberd_http_responses_total{code=\"3xx\"} 0\n"),
            std::string::npos)
      << m.body;
  EXPECT_EQ(m.body.find("emberd_push_sent_total"), std::string::npos);  // push is off
  EXPECT_EQ(m.body.find("emberd_debuginfod"), std::string::npos);       // and debuginfod
  status_.debuginfod = true;
  m = get("/metrics");
  EXPECT_NE(m.body.find("# TYPE emberd_debuginfod_queries_total counter\n"
                        "emberd_debuginfod_queries_total{outcome=\"fetched\"} 3\n"
                        "emberd_debuginfod_queries_total{outcome=\"missing\"} 2\n"
                        "emberd_debuginfod_queries_total{outcome=\"failed\"} 0\n"
                        "emberd_debuginfod_queries_total{outcome=\"skipped\"} 40\n"),
            std::string::npos)
      << m.body;
  EXPECT_EQ(test::metric_value(m.body, "emberd_debuginfod_cache_evictions_total"), 0);
  EXPECT_TRUE(Api::is_cheap("/metrics"));
  EXPECT_FALSE(Api::is_cheap("/api/v1/flamegraph.svg"));
}

TEST(QueryString, DecodesAndBounds) {
  auto q = parse_query_string("a=1&b=x%20y+z&&c=&d");
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 4u);
  EXPECT_EQ((*q)[1].second, "x y z");
  EXPECT_EQ((*q)[2].second, "");
  EXPECT_EQ((*q)[3].first, "d");
  EXPECT_FALSE(parse_query_string("a=%4"));
  std::string many;
  for (int i = 0; i < 100; ++i) many += "a=1&";
  EXPECT_FALSE(parse_query_string(many));
  EXPECT_FALSE(parse_query_string("a=" + std::string(2000, 'x')));
  EXPECT_EQ(url_encode("^a b$"), "%5Ea%20b%24");
  EXPECT_EQ(html_escape("<a href='x'>&\""), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
}

}  // namespace
}  // namespace ember::daemon

namespace ember::daemon {
namespace {

TEST_F(ApiTest, SpeedscopeGivesATimelinePerThreadOfTheRange) {
  // Live samples of pid 50 on two threads, with their times (as the collector notes them).
  profile::RawProfile raw;
  auto module = std::make_shared<profile::Module>();
  module->path = "/usr/bin/timed";
  profile::ModuleId m = raw.add_module(module);
  profile::RawFrame a[] = {{m, 0xa0}, {m, 0x20}};
  profile::RawFrame b[] = {{m, 0xb0}, {m, 0x20}};
  const profile::SampleOrigin main_thread{50, 50, raw.intern("timed"), raw.intern("timed")};
  const profile::SampleOrigin worker{50, 51, raw.intern("timed"), raw.intern("io-worker")};
  const int64_t t0 = unix_now_ns() - 5 * kSecond;
  for (int i = 0; i < 6; ++i) {
    raw.add_sample(i < 3 ? main_thread : worker, i % 2 == 0 ? a : b, 10'000'000);
    raw.note_time(t0 + i * 10'000'000);
  }
  live_.add(raw);
  HttpResponse r = get("/api/v1/speedscope.json?pid=50");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(header(r, "Content-Disposition").find(".speedscope.json\""), std::string::npos);
  auto doc = nlohmann::json::parse(r.body);
  ASSERT_EQ(doc["profiles"].size(), 2u) << r.body;
  EXPECT_EQ(doc["profiles"][0]["name"], "timed (tid 50)");
  EXPECT_EQ(doc["profiles"][1]["name"], "io-worker (tid 51)");
  std::vector<std::string> leaves;
  for (const auto& stack : doc["profiles"][0]["samples"]) {
    leaves.push_back(doc["shared"]["frames"][stack.back().get<size_t>()]["name"]);
  }
  EXPECT_EQ(leaves, (std::vector<std::string>{"fn_a0", "fn_b0", "fn_a0"}));
  // Without a timeline (stored snapshots of other producers), each stack is one weighted sample.
  HttpResponse nginx = get("/api/v1/speedscope.json?pid=10");
  ASSERT_EQ(nginx.status, 200) << nginx.body;
  EXPECT_EQ(nlohmann::json::parse(nginx.body)["profiles"][0]["weights"], nlohmann::json({10}));
  EXPECT_EQ(get("/api/v1/speedscope.json?width=3").status, 400);
}

}  // namespace
}  // namespace ember::daemon
