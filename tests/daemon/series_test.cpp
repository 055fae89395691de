// GET /api/v1/series and the snapshot summaries behind it: the shape of the answer (every step
// present, empty ones zero), the function filter, the process and label filters, the summaries
// rebuilt when missing or damaged (the series then the same as from decoding every snapshot),
// and the 400s of bad input.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "daemon/api.h"
#include "daemon/live_window.h"
#include "daemon/query_engine.h"
#include "daemon/series.h"
#include "daemon/snapshot_store.h"
#include "daemon/snapshot_summary.h"
#include "daemon/url.h"
#include "profiles.h"
#include "test_support.h"
#include "tests/support/fake_symbolizer.h"

namespace ember::daemon {
namespace {

constexpr int64_t kPeriod = 10'101'010;  // the cpu value of one sample in test::make_profile

class NoStatus : public StatusSource {
 public:
  DaemonStatus status() const override { return {}; }
};

class SeriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SnapshotStore::open(dir_.path(), {});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    // Minute 2: nginx (pid 10, one thread "worker") and postgres; minute 5: nginx, with a
    // recursive parse.
    add_snapshot(t0_ + 2 * test::kMinute, {{10, "nginx", {"main", "serve"}, 5},
                                     {20, "postgres", {"main", "query"}, 7},
                                     {10, "nginx", {"main", "parse", "serve"}, 3, "worker"}});
    add_snapshot(t0_ + 5 * test::kMinute, {{10, "nginx", {"main", "serve"}, 4}, {10, "nginx", {"main", "parse", "parse"}, 2}});
    ASSERT_TRUE(store_->write_pending());
    queries_ = std::make_unique<QueryEngine>(*store_, live_, symbols_, handoff_, 64 << 20, 1'000'000);
    restart_api();
  }

  // As emberd writes them: the snapshot and its summary.
  void add_snapshot(UnixNanos start, const std::vector<test::FakeSample>& samples) {
    auto bytes = std::make_shared<const std::string>(test::make_snapshot_bytes(samples));
    auto summary = encode_summary(summarize(test::make_profile(samples)), bytes->size());
    ASSERT_TRUE(summary);
    store_->add(start, start + test::kMinute, bytes, std::make_shared<const std::string>(std::move(*summary)));
  }

  // A new Api: nothing of the summaries cached in memory.
  void restart_api() { api_ = std::make_unique<Api>(*queries_, status_, ApiOptions{"testhost", std::chrono::hours(24 * 7)}); }

  HttpResponse get(const std::string& target) { return api_->handle(HttpRequest{"GET", target, "test", nullptr}); }

  std::string range(int minutes = 10) {
    return "from=" + url_encode(format_time(t0_)) + "&to=" + url_encode(format_time(t0_ + minutes * test::kMinute));
  }

  nlohmann::json series(const std::string& query) {
    HttpResponse r = get("/api/v1/series?" + range() + query);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    return r.status == 200 ? nlohmann::json::parse(r.body) : nlohmann::json::object();
  }

  static std::vector<int64_t> samples_of(const nlohmann::json& j) {
    std::vector<int64_t> out;
    for (const auto& s : j["steps"]) out.push_back(s["samples"].get<int64_t>());
    return out;
  }

  // Their paths.
  std::vector<std::string> summary_files() {
    std::vector<std::string> out;
    for (const std::string& name : test::list_files(dir_.path() + "/summaries", ".sum.gz")) {
      out.push_back(dir_.path() + "/summaries/" + name);
    }
    return out;
  }

  // The series of step=1m&function=PATTERN with every snapshot decoded, no summary read.
  nlohmann::json decoded(const std::string& pattern) {
    SeriesQuery q;
    q.range = TimeRange{t0_, t0_ + 10 * test::kMinute};
    q.step_ns = test::kMinute;
    auto re = common::Regex::compile(pattern);
    EXPECT_TRUE(re);
    q.function = std::move(*re);
    q.decode_only = true;
    SeriesEngine engine(*queries_);
    auto s = engine.series(q);
    EXPECT_TRUE(s);
    EXPECT_EQ(s->sources.decoded, 2u);
    nlohmann::json out;
    out["samples"] = s->samples;
    out["cpu_ns"] = s->cpu_ns;
    for (const FunctionSeries& f : s->functions) {
      out["functions"].push_back({f.name, f.step_self_samples, f.step_total_samples, f.step_self_cpu_ns, f.step_total_cpu_ns});
    }
    return out;
  }

  // The series of the answer in the form of decoded().
  static nlohmann::json comparable(const nlohmann::json& j) {
    nlohmann::json out;
    std::vector<int64_t> cpu;
    for (const auto& s : j["steps"]) cpu.push_back(std::llround(s["cpu_seconds"].get<double>() * 1e9));
    out["samples"] = samples_of(j);
    out["cpu_ns"] = cpu;
    auto ns = [](const nlohmann::json& a) {
      std::vector<int64_t> v;
      for (const auto& x : a) v.push_back(std::llround(x.get<double>() * 1e9));
      return v;
    };
    for (const auto& f : j["functions"]) {
      out["functions"].push_back({f["name"], f["steps"]["self_samples"], f["steps"]["total_samples"],
                                  ns(f["steps"]["self_cpu_seconds"]), ns(f["steps"]["total_cpu_seconds"])});
    }
    return out;
  }

  test::TempDir dir_;
  // Minute-aligned, half an hour ago: well inside the week emberd keeps.
  const UnixNanos t0_ = unix_now_ns() / test::kMinute * test::kMinute - 30 * test::kMinute;
  std::unique_ptr<SnapshotStore> store_;
  LiveWindow live_{1 << 16};
  ember::testing::FakeSymbolizer symbols_{"fn_"};
  std::mutex handoff_;
  NoStatus status_;
  std::unique_ptr<QueryEngine> queries_;
  std::unique_ptr<Api> api_;
};

TEST_F(SeriesTest, EveryStepIsPresentAndEmptyOnesAreZero) {
  nlohmann::json j = series("&step=1m");
  ASSERT_EQ(j["steps"].size(), 10u);
  EXPECT_EQ(samples_of(j), (std::vector<int64_t>{0, 0, 15, 0, 0, 6, 0, 0, 0, 0}));
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(j["steps"][i]["start"], format_time(t0_ + static_cast<int64_t>(i) * test::kMinute));
  EXPECT_NEAR(j["steps"][2]["cpu_seconds"].get<double>(), 15 * kPeriod / 1e9, 1e-9);
  EXPECT_EQ(j["steps"][3]["cpu_seconds"].get<double>(), 0.0);
  EXPECT_EQ(j["step"], "1m");
  EXPECT_EQ(j["step_seconds"], 60.0);
  EXPECT_FALSE(j.contains("functions"));
  // Both read through the summaries written with the snapshots.
  EXPECT_EQ(summary_files().size(), 2u);
  EXPECT_EQ(j["sources"]["summaries"], 2);
  EXPECT_EQ(j["sources"]["rebuilt"], 0);
  // Asked again: from memory.
  EXPECT_EQ(series("&step=1m")["sources"]["cached"], 2);

  // Five-minute steps: minute 2 in the first, minute 5 in the second.
  EXPECT_EQ(samples_of(series("&step=5m")), (std::vector<int64_t>{15, 6}));
  // Without a step: one snapshot long (a minute) for ten minutes.
  EXPECT_EQ(series("")["step"], "1m");
  // A range that does not divide: the last step is shorter, and there.
  EXPECT_EQ(samples_of(series("&step=3m")), (std::vector<int64_t>{15, 6, 0, 0}));
}

TEST_F(SeriesTest, DefaultStepFollowsTheRangeAndTheSnapshotLength) {
  EXPECT_EQ(SeriesEngine::default_step(3600 * test::kSecond, test::kMinute), test::kMinute);
  EXPECT_EQ(SeriesEngine::default_step(24 * 3600 * test::kSecond, test::kMinute), 5 * test::kMinute);
  EXPECT_EQ(SeriesEngine::default_step(7 * 24 * 3600 * test::kSecond, test::kMinute), 60 * test::kMinute);
  EXPECT_EQ(SeriesEngine::default_step(600 * test::kSecond, 10 * test::kSecond), 10 * test::kSecond);
}

TEST_F(SeriesTest, ProcessAndLabelFiltersAsTheProfileEndpoints) {
  EXPECT_EQ(samples_of(series("&step=1m&comm=^nginx$")), (std::vector<int64_t>{0, 0, 8, 0, 0, 6, 0, 0, 0, 0}));
  EXPECT_EQ(samples_of(series("&step=1m&pid=20")), (std::vector<int64_t>{0, 0, 7, 0, 0, 0, 0, 0, 0, 0}));
  // Labels are not in the summaries: those snapshots are decoded.
  nlohmann::json worker = series("&step=1m&label=thread_comm:worker");
  EXPECT_EQ(samples_of(worker), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(worker["sources"]["decoded"], 2);
  EXPECT_EQ(worker["filter"], "thread_comm=worker");
}

TEST_F(SeriesTest, FunctionGivesSelfAndTotalPerStep) {
  nlohmann::json j = series("&step=1m&function=^(serve|parse)$");
  ASSERT_EQ(j["functions"].size(), 2u);
  EXPECT_EQ(j["matched_functions"], 2);
  const nlohmann::json& serve = j["functions"][0];  // most total samples first
  EXPECT_EQ(serve["name"], "serve");
  EXPECT_EQ(serve["self_samples"], 12);
  EXPECT_EQ(serve["total_samples"], 12);
  EXPECT_EQ(serve["steps"]["self_samples"], (std::vector<int64_t>{0, 0, 8, 0, 0, 4, 0, 0, 0, 0}));
  EXPECT_NEAR(serve["steps"]["self_cpu_seconds"][2].get<double>(), 8 * kPeriod / 1e9, 1e-9);
  const nlohmann::json& parse = j["functions"][1];
  EXPECT_EQ(parse["name"], "parse");
  // In minute 5 parse calls itself: its total counts those 2 samples once, its self too.
  EXPECT_EQ(parse["steps"]["total_samples"], (std::vector<int64_t>{0, 0, 3, 0, 0, 2, 0, 0, 0, 0}));
  EXPECT_EQ(parse["steps"]["self_samples"], (std::vector<int64_t>{0, 0, 0, 0, 0, 2, 0, 0, 0, 0}));

  // The top N by total samples: main (21), then serve (12); four functions matched.
  nlohmann::json top = series("&step=1m&function=.&top=2");
  EXPECT_EQ(top["matched_functions"], 4);
  ASSERT_EQ(top["functions"].size(), 2u);
  EXPECT_EQ(top["functions"][0]["name"], "main");
  EXPECT_EQ(top["functions"][0]["total_samples"], 21);
  EXPECT_EQ(top["functions"][0]["self_samples"], 0);
  EXPECT_EQ(top["functions"][1]["name"], "serve");
  // With a process filter, only that process's functions.
  nlohmann::json postgres = series("&step=1m&function=.&comm=postgres");
  ASSERT_EQ(postgres["functions"].size(), 2u);
  EXPECT_EQ(postgres["functions"][0]["name"], "main");
  EXPECT_EQ(postgres["functions"][1]["name"], "query");
  EXPECT_EQ(postgres["functions"][1]["steps"]["self_samples"][2], 7);
  // A regex matching nothing: an empty list, the steps still there.
  nlohmann::json none = series("&step=1m&function=^nothing$");
  EXPECT_EQ(none["functions"].size(), 0u);
  EXPECT_EQ(none["steps"].size(), 10u);
}

TEST_F(SeriesTest, SummaryRebuiltWhenDeleted) {
  const std::string query = "&step=1m&function=.";
  const nlohmann::json expected = decoded(".");
  EXPECT_EQ(comparable(series(query)), expected);
  for (const std::string& f : summary_files()) std::filesystem::remove(f);
  restart_api();
  nlohmann::json j = series(query);
  EXPECT_EQ(j["sources"]["rebuilt"], 2);
  EXPECT_EQ(comparable(j), expected);
  // Written again: the next emberd reads them.
  EXPECT_EQ(summary_files().size(), 2u);
  restart_api();
  EXPECT_EQ(series(query)["sources"]["summaries"], 2);
}

TEST_F(SeriesTest, DamagedSummaryIsRebuiltNeverBelieved) {
  const std::string query = "&step=1m&function=.";
  const nlohmann::json expected = decoded(".");
  std::vector<std::string> files = summary_files();
  ASSERT_EQ(files.size(), 2u);
  const std::string first = test::read_text(files[0]), second = test::read_text(files[1]);
  ASSERT_NE(first.size(), second.size());
  std::string in_processes = first, in_functions = first;
  in_processes[20] ^= 0x40;
  in_functions[in_functions.size() - 12] ^= 0x40;
  // Cut short, a byte changed in either section (their CRCs), another snapshot's summary (the
  // size it names), not a summary at all.
  for (const std::string& damage :
       {first.substr(0, first.size() / 2), in_processes, in_functions, second, std::string("junk")}) {
    test::write_text(files[0], damage);
    restart_api();
    nlohmann::json j = series(query);
    EXPECT_EQ(j["sources"]["rebuilt"], 1);
    EXPECT_EQ(j["sources"]["summaries"], 1);
    EXPECT_EQ(comparable(j), expected);
    EXPECT_EQ(test::read_text(files[0]), first);  // the rebuilt one
  }
}

TEST_F(SeriesTest, SummariesGoWithTheirSnapshots) {
  StoreStats stats = store_->stats();
  EXPECT_GT(stats.summary_bytes, 0u);
  EXPECT_EQ(stats.bytes, stats.summary_bytes + std::filesystem::file_size(dir_.path() + "/" + store_->list(0, INT64_MAX)[0].name) +
                             std::filesystem::file_size(dir_.path() + "/" + store_->list(0, INT64_MAX)[1].name));
  // Retention deletes both files.
  StoreLimits limits;
  limits.max_age = std::chrono::minutes(20);
  store_->set_limits(limits);
  store_->apply_retention(t0_ + 25 * test::kMinute);  // minute 2 ended more than 20 minutes before
  EXPECT_EQ(summary_files().size(), 1u);
  // A summary without its snapshot is deleted when the store opens.
  test::write_text(dir_.path() + "/summaries/20200101T000000.000Z_20200101T000100.000Z.sum.gz", "x");
  queries_.reset();
  api_.reset();
  store_.reset();
  auto reopened = SnapshotStore::open(dir_.path(), {});
  ASSERT_TRUE(reopened);
  EXPECT_EQ(summary_files().size(), 1u);
  EXPECT_GT((*reopened)->stats().summary_bytes, 0u);
}

// At start-up a snapshot is decompressed and checked unless its summary was made from that very
// file (the size it names): a week of snapshots opened in seconds otherwise. Damage that keeps
// the size is then found by the first query that reads the snapshot, which quarantines it; a
// snapshot cut short no longer matches its summary and is quarantined at start-up.
TEST_F(SeriesTest, ASnapshotItsSummaryVouchesForIsCheckedWhenReadNotAtStartUp) {
  auto reopen = [&] {
    api_.reset();
    queries_.reset();
    store_.reset();
    auto s = SnapshotStore::open(dir_.path(), {});
    EXPECT_TRUE(s);
    store_ = std::move(*s);
    queries_ = std::make_unique<QueryEngine>(*store_, live_, symbols_, handoff_, 64 << 20, 1'000'000);
    restart_api();
  };
  const std::vector<SnapshotInfo> listed = store_->list(0, INT64_MAX);
  ASSERT_EQ(listed.size(), 2u);
  const std::string first = dir_.path() + "/" + listed[0].name, second = dir_.path() + "/" + listed[1].name;
  // The first one damaged in its middle, its size kept: opened as it is.
  std::string bytes = test::read_text(first);
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 16; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  test::write_text(first, bytes);
  reopen();
  EXPECT_EQ(store_->stats().snapshots, 2u);
  EXPECT_EQ(store_->stats().quarantined, 0u);
  // A query that reads it finds the damage, answers from the rest and moves the file aside.
  HttpResponse r = get("/api/v1/folded?" + range());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(store_->stats().quarantined, 1u);
  EXPECT_EQ(store_->stats().snapshots, 1u);
  EXPECT_FALSE(std::filesystem::exists(first));
  EXPECT_EQ(test::list_files(dir_.path() + "/quarantine").size(), 1u);
  // The second one cut short: its summary names another size, so it is checked and refused at
  // start-up.
  const std::string whole = test::read_text(second);
  test::write_text(second, whole.substr(0, whole.size() - 9));
  reopen();
  EXPECT_EQ(store_->stats().snapshots, 0u);
  EXPECT_EQ(store_->stats().quarantined, 1u);
  EXPECT_FALSE(std::filesystem::exists(second));
}

TEST_F(SeriesTest, BadInputIsA400WithTheReason) {
  auto expect_400 = [&](const std::string& query, const std::string& why) {
    HttpResponse r = get("/api/v1/series?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.body, why + "\n") << query;
  };
  expect_400("from=-1d&step=10s", "step: 10s over 1d gives 8640 points, more than 2000; use a step of 44s or more");
  expect_400("from=-7d&step=1m", "step: 1m over 7d gives 10080 points, more than 2000; use a step of 5m3s or more");
  expect_400("step=0s", "step: must be longer than 0s");
  expect_400("step=often", "step: invalid duration 'often': expected a whole number (write e.g. 500ms, 60s, 5m, 1h30m, 7d)");
  expect_400("function=(parse", "function: invalid regex '(parse': missing ): (parse");
  expect_400("top=0&function=x", "top: '0' is not a whole number from 1 to 100");
  expect_400("mertic=rss", "unknown parameter 'mertic' (this endpoint takes from, to, step, pid, comm, label, "
                            "function, top, metric)");
  // Past what storage.max_age keeps: the reason names the key and the oldest time kept.
  HttpResponse old = get("/api/v1/series?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z");
  EXPECT_EQ(old.status, 400);
  EXPECT_TRUE(std::regex_match(old.body, std::regex("from: 2020-01-01T00:00:00\\.000Z is before the data emberd keeps "
                                                    "\\(storage\\.max_age = 7d: nothing before "
                                                    "20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z\\)\n")))
      << old.body;
}

}  // namespace
}  // namespace ember::daemon
