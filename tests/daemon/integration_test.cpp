// emberd end to end: the real executable on a temporary directory and an ephemeral port,
// sampling the 70/30 workload, queried over HTTP like an SRE would.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "daemon/snapshot_store.h"
#include "daemon/units.h"
#include "daemon/url.h"
#include "profiles.h"
#include "proto/pprof.h"
#include "receiver.h"
#include "test_support.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;
using test::Emberd;
using test::TempDir;
using test::ready;
using test::Workload;

const std::string kSeventyThirty = EMBER_WORKLOAD_SEVENTY_THIRTY;
const std::string kGrowMemory = EMBER_WORKLOAD_GROW_MEMORY;
constexpr const char* kAlpha = "truth::Worker::compute_alpha";
constexpr const char* kBeta = "truth::Worker::compute_beta";

std::string config_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir / name;
  test::write_text(path, text);
  return path;
}

// A small emberd: one-second snapshots in `data`, an ephemeral port.
std::vector<std::string> args(const TempDir& dir, const std::string& config = "", const std::string& interval = "1s") {
  std::vector<std::string> a = {"--listen", "127.0.0.1:0", "--data-dir", dir / "data", "--interval", interval};
  if (!config.empty()) a.insert(a.begin(), {"--config", config});
  return a;
}

uint64_t total_samples(const std::string& pprof_bytes) {
  auto p = proto::decode(pprof_bytes, "answer");
  if (!p) return 0;
  return static_cast<uint64_t>(p->total(0));
}

TEST(Emberd, ServesEveryEndpointWhileProfilingTheHost) {
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  Emberd emberd(dir, args(dir));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(3, 60s)) << emberd.log();
  const std::string pid = std::to_string(w.pid());

  // The flamegraph of the workload names its functions.
  auto svg = emberd.get("/api/v1/flamegraph.svg?comm=%5Eseventy_thirty%24");
  ASSERT_EQ(svg.status, 200) << svg.body;
  EXPECT_EQ(svg.headers["content-type"], "image/svg+xml");
  EXPECT_NE(svg.body.find(kAlpha), std::string::npos);
  EXPECT_NE(svg.body.find(kBeta), std::string::npos);
  EXPECT_NE(svg.headers["content-disposition"].find(".svg\""), std::string::npos);

  // Folded stacks of that pid only, with the known call chain.
  auto folded = emberd.get("/api/v1/folded?pid=" + pid);
  ASSERT_EQ(folded.status, 200);
  ASSERT_FALSE(folded.body.empty());
  std::istringstream lines(folded.body);
  std::string line;
  while (std::getline(lines, line)) EXPECT_TRUE(line.starts_with("seventy_thirty;")) << line;
  EXPECT_NE(folded.body.find("truth::run;truth::Worker::step;truth::Worker::compute_alpha"), std::string::npos)
      << folded.body.substr(0, 2000);

  // The report sees the 70/30 split.
  auto report = emberd.get("/api/v1/report.json?top=50&pid=" + pid);
  ASSERT_EQ(report.status, 200);
  auto j = nlohmann::json::parse(report.body);
  double alpha = 0, beta = 0;
  // Their own time is in the inlined workload::churn: compare totals.
  for (const auto& f : j["top_total"]) {
    if (f["name"] == kAlpha) alpha = f["total"].get<double>();
    if (f["name"] == kBeta) beta = f["total"].get<double>();
  }
  ASSERT_GT(alpha + beta, 0) << report.body;
  EXPECT_NEAR(alpha / (alpha + beta), 0.7, 0.1);

  // pprof that go tool pprof reads.
  auto pb = emberd.get("/api/v1/profile.pb.gz?pid=" + pid);
  ASSERT_EQ(pb.status, 200);
  EXPECT_NE(pb.headers["content-disposition"].find("attachment; filename=\"emberd-"), std::string::npos);
  EXPECT_GT(total_samples(pb.body), 0u);
  if (test::have_program("go")) {
    test::write_text(dir / "answer.pb.gz", pb.body);
    std::string out;
    EXPECT_EQ(test::run_command("HOME=" + dir.path() + " GOCACHE=" + (dir / "gocache") + " go tool pprof -top " +
                                    (dir / "answer.pb.gz"),
                                &out),
              0)
        << out;
    EXPECT_NE(out.find("compute_alpha"), std::string::npos) << out;
    // And straight from the URL, as pprof users point it at a server (it must not go looking
    // for a /symbolz endpoint and fail).
    out.clear();
    EXPECT_EQ(test::run_command("HOME=" + dir.path() + " GOCACHE=" + (dir / "gocache") + " go tool pprof -top '" +
                                    emberd.url() + "api/v1/profile.pb.gz?from=-1h&pid=" + pid + "' 2>&1",
                                &out),
              0)
        << out;
    EXPECT_NE(out.find("compute_alpha"), std::string::npos) << out;
  }

  // Prometheus accepts the metrics.
  auto metrics = emberd.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_GT(test::metric_value(metrics.body, "emberd_samples_total").value_or(0), 0);
  EXPECT_GE(test::metric_value(metrics.body, "emberd_snapshot_writes_total").value_or(0), 3);
  EXPECT_GT(test::metric_value(metrics.body, "process_resident_memory_bytes").value_or(0), 0);
  if (test::have_program("promtool")) {
    test::write_text(dir / "metrics.txt", metrics.body);
    std::string out;
    EXPECT_EQ(test::run_command("promtool check metrics < " + (dir / "metrics.txt"), &out), 0) << out;
  }

  auto targets = emberd.get("/api/v1/targets");
  ASSERT_EQ(targets.status, 200);
  bool found = false;
  const auto processes = nlohmann::json::parse(targets.body)["processes"];
  for (const auto& p : processes) {
    if (p["pid"] == w.pid()) {
      found = true;
      EXPECT_EQ(p["comm"], "seventy_thirty");
      EXPECT_GT(p["samples"].get<uint64_t>(), 0u);
    }
  }
  EXPECT_TRUE(found) << "pid " << pid << ": " << targets.body.substr(0, 2000);

  auto health = emberd.get("/healthz");
  ASSERT_EQ(health.status, 200);
  auto h = nlohmann::json::parse(health.body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_GT(h["samples"].get<uint64_t>(), 0u);
  EXPECT_TRUE(h["last_snapshot"]["file"].get<std::string>().ends_with(".pb.gz"));

  EXPECT_EQ(emberd.get("/api/v1/diff.svg?from=-2s&comm=seventy").status, 200);
  auto index = emberd.get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("pid=" + pid + "\""), std::string::npos);

  // Bad input gets reasons, not crashes.
  auto bad = emberd.get("/api/v1/flamegraph.svg?from=noon");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("from: cannot read 'noon'"), std::string::npos);
  EXPECT_EQ(test::http_raw(emberd.url(), "GET /api/v1/../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status,
            400);
  EXPECT_EQ(emberd.get("/", {{"X-Big", std::string(16 * 1024, 'x')}}).status, 431);

  // Every stored file is a pprof snapshot with ember's labels.
  auto files = test::list_files(dir / "data", ".pb.gz");
  ASSERT_GE(files.size(), 3u);
  auto first = proto::decode(test::read_text(dir / ("data/" + files[0])), files[0]);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_FALSE(first->samples.empty());
  for (std::string_view key : {"pid", "tid", "comm", "thread_comm"}) {
    bool has = false;
    for (const auto& l : first->samples[0].labels) has = has || first->str(l.key) == key;
    EXPECT_TRUE(has) << key;
  }

  emberd.process().signal(SIGTERM);
  auto status = emberd.process().wait(30s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << emberd.log();
}

TEST(Emberd, AfterSigkillEverySnapshotIsStillServedAndNoneIsTorn) {
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  std::map<std::string, std::string> before;
  {
    Emberd emberd(dir, args(dir), "first");
    ASSERT_FALSE(emberd.url().empty()) << emberd.log();
    ASSERT_TRUE(emberd.wait_snapshots(4, 60s)) << emberd.log();
    emberd.process().signal(SIGKILL);
    ASSERT_TRUE(emberd.process().wait(10s));
  }
  uint64_t stored_samples = 0;
  for (const std::string& f : test::list_files(dir / "data", ".pb.gz")) {
    before[f] = test::read_text(dir / ("data/" + f));
    stored_samples += total_samples(before[f]);
  }
  ASSERT_GE(before.size(), 4u);
  // What an interrupted write leaves behind.
  test::write_text(dir / "data/.20991231T000000.000Z_20991231T000001.000Z.pb.gz.tmp-Xy12ab", "half");

  Emberd again(dir, args(dir, "", "60s"), "second");
  ASSERT_FALSE(again.url().empty()) << again.log();
  for (const auto& [name, bytes] : before) {
    EXPECT_EQ(test::read_text(dir / ("data/" + name)), bytes) << name;
  }
  EXPECT_TRUE(test::list_files(dir / "data/quarantine").empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "data/.20991231T000000.000Z_20991231T000001.000Z.pb.gz.tmp-Xy12ab"));
  auto metrics = again.get("/metrics");
  EXPECT_EQ(test::metric_value(metrics.body, "emberd_store_snapshots"), static_cast<double>(before.size()));
  EXPECT_EQ(test::metric_value(metrics.body, "emberd_snapshots_quarantined_total"), 0);
  // The answer over the last hour holds every stored sample (and the new live window).
  auto pb = again.get("/api/v1/profile.pb.gz");
  ASSERT_EQ(pb.status, 200);
  EXPECT_GE(total_samples(pb.body), stored_samples);
}

TEST(Emberd, SigtermWritesTheCurrentWindow) {
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  Emberd emberd(dir, args(dir, "", "1h"));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  // Samples are in the live window, nothing on disk yet.
  for (int i = 0; i < 200; ++i) {
    if (test::json_number(emberd.get("/healthz").body, "samples").value_or(0) > 50) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(test::list_files(dir / "data", ".pb.gz").empty());
  emberd.process().signal(SIGTERM);
  auto status = emberd.process().wait(30s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << emberd.log();
  auto files = test::list_files(dir / "data", ".pb.gz");
  ASSERT_EQ(files.size(), 1u) << emberd.log();
  EXPECT_GT(total_samples(test::read_text(dir / ("data/" + files[0]))), 0u);
  EXPECT_NE(emberd.log().find("emberd stopped"), std::string::npos);
}

TEST(Emberd, RetentionDeletesTheOldestFirst) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data");
  // A snapshot ten days old, from an earlier run: past max_age.
  const UnixNanos old = unix_now_ns() - 10LL * 86400 * 1'000'000'000;
  std::string ancient = SnapshotStore::file_name(old, old + 60'000'000'000);
  test::write_text(dir / ("data/" + ancient), test::make_snapshot_bytes({{1, "old", {"main"}, 1}}));
  std::string cfg = config_file(dir, "emberd.toml", "[storage]\nmax_age = \"7d\"\nmax_bytes = \"24KiB\"\n");
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  EXPECT_FALSE(std::filesystem::exists(dir / ("data/" + ancient)));
  ASSERT_TRUE(emberd.wait_snapshots(1, 30s));
  std::string first = test::list_files(dir / "data", ".pb.gz").front();
  // Whole-host snapshots are several KiB: a few of them pass 24 KiB.
  for (int i = 0; i < 300; ++i) {
    if (test::metric_value(emberd.get("/metrics").body, "emberd_snapshots_deleted_total").value_or(0) >= 3) break;
    std::this_thread::sleep_for(100ms);
  }
  auto metrics = emberd.get("/metrics").body;
  EXPECT_GE(test::metric_value(metrics, "emberd_snapshots_deleted_total").value_or(0), 3);
  EXPECT_FALSE(std::filesystem::exists(dir / ("data/" + first)));
  auto files = test::list_files(dir / "data", ".pb.gz");
  ASSERT_FALSE(files.empty());
  uint64_t bytes = 0;
  for (const auto& f : files) bytes += std::filesystem::file_size(dir / ("data/" + f));
  uint64_t newest = std::filesystem::file_size(dir / ("data/" + files.back()));
  // Within the limit, except for the newest file, which is always kept.
  EXPECT_LE(bytes, 24u * 1024 + newest);
}

TEST(Emberd, SighupReloadsTargetsAndKeepsRunningOnABadFile) {
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  std::string cfg = config_file(dir, "emberd.toml", "[targets]\nall = true\n");
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(1, 30s));
  const double samples_before = test::metric_value(emberd.get("/metrics").body, "emberd_samples_total").value_or(0);

  test::write_text(cfg, "[targets]\nnames = [\"^seventy_thirty$\"]\n[storage]\nmax_age = \"2d\"\n");
  emberd.process().signal(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 200 && !reloaded; ++i) {
    reloaded = test::metric_value(emberd.get("/metrics").body, "emberd_config_reloads_total").value_or(0) >= 1;
    if (!reloaded) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(reloaded) << emberd.log();
  auto health = nlohmann::json::parse(emberd.get("/healthz").body);
  EXPECT_EQ(health["sampling"]["targets"], "names ^seventy_thirty$");
  auto metrics = emberd.get("/metrics").body;
  EXPECT_EQ(test::metric_value(metrics, "emberd_collector_restarts_total"), 1);
  // Counters go on: the live window and what was counted survive the new Recorder.
  EXPECT_GE(test::metric_value(metrics, "emberd_samples_total").value_or(0), samples_before);

  // From now on only the workload is recorded. Writes are sequential: the third snapshot
  // written from here began when the second was sealed, after the first was written, which was
  // after the reload had replaced the Recorder.
  const double writes = test::metric_value(metrics, "emberd_snapshot_writes_total").value_or(0);
  ASSERT_TRUE(emberd.wait_snapshots(static_cast<uint64_t>(writes) + 3, 30s));
  std::string newest = test::list_files(dir / "data", ".pb.gz").back();
  UnixNanos start = 0, end = 0;
  ASSERT_TRUE(SnapshotStore::parse_file_name(newest, start, end));
  auto targets = nlohmann::json::parse(emberd.get("/api/v1/targets?from=" + format_time(start + 1'000'000) +
                                                  "&to=" + format_time(end - 1'000'000))
                                           .body);
  ASSERT_FALSE(targets["processes"].empty()) << targets.dump();
  for (const auto& p : targets["processes"]) EXPECT_EQ(p["comm"], "seventy_thirty") << p.dump();

  // A broken file changes nothing and says why.
  test::write_text(cfg, "[targets\nnames = [");
  emberd.process().signal(SIGHUP);
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    refused = test::metric_value(emberd.get("/metrics").body, "emberd_config_reload_failures_total").value_or(0) >= 1;
    if (!refused) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(refused);
  EXPECT_NE(emberd.log().find("configuration not reloaded"), std::string::npos);
  EXPECT_NE(emberd.log().find(cfg), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(emberd.get("/healthz").body)["sampling"]["targets"], "names ^seventy_thirty$");
  EXPECT_TRUE(emberd.process().running());
}

TEST(Emberd, TokenIsRequiredAndRemoteNeedsConsent) {
  TempDir dir;
  test::write_text(dir / "token", "a-long-enough-bearer-token-42\n");
  ::chmod((dir / "token").c_str(), 0600);
  std::string cfg = config_file(dir, "emberd.toml", "[http]\ntoken_file = \"" + (dir / "token") + "\"\n");
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  EXPECT_EQ(emberd.get("/healthz").status, 401);
  EXPECT_EQ(emberd.get("/api/v1/folded", {{"Authorization", "Bearer wrong-token"}}).status, 401);
  EXPECT_EQ(emberd.get("/healthz", {{"Authorization", "Bearer a-long-enough-bearer-token-42"}}).status, 200);

  // Serving the network is refused without allow_remote (exit 2, the reason on stderr).
  std::string out;
  int code = test::run_command(std::string(EMBERD_PATH) + " --listen 0.0.0.0:0 --data-dir " + (dir / "x"), &out);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("allow_remote"), std::string::npos) << out;
}

TEST(Emberd, CheckConfigPrintsTheEffectiveConfigurationOrTheError) {
  TempDir dir;
  std::string good = config_file(dir, "good.toml", "[storage]\ninterval = \"5m\"\n");
  std::string out;
  EXPECT_EQ(test::run_command(std::string(EMBERD_PATH) + " --check-config " + good + " --frequency 49", &out), 0) << out;
  EXPECT_NE(out.find("interval = \"5m\""), std::string::npos) << out;
  EXPECT_NE(out.find("frequency = 49"), std::string::npos) << out;
  EXPECT_NE(out.find("[push]"), std::string::npos);

  std::string bad = config_file(dir, "bad.toml", "[storage]\ninterval = 60\n");
  EXPECT_EQ(test::run_command(std::string(EMBERD_PATH) + " --check-config " + bad, &out), 2);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find(bad + ":2:"), std::string::npos) << out;

  std::string truncated = config_file(dir, "truncated.toml", "[http]\nlisten = \"127.0.0.1:70");
  EXPECT_EQ(test::run_command(std::string(EMBERD_PATH) + " --check-config " + truncated, &out), 2);
  EXPECT_NE(out.find("truncated.toml"), std::string::npos) << out;
}

TEST(Emberd, FilteredTargetsRecordOnlyMatchingProcesses) {
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "60"});
  ASSERT_TRUE(ready(w));
  std::string cfg = config_file(dir, "emberd.toml", "[targets]\npids = [" + std::to_string(w.pid()) + "]\n");
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(2, 30s));
  auto targets = nlohmann::json::parse(emberd.get("/api/v1/targets").body);
  ASSERT_EQ(targets["processes"].size(), 1u) << targets.dump();
  EXPECT_EQ(targets["processes"][0]["pid"], w.pid());
  EXPECT_GT(test::metric_value(emberd.get("/metrics").body, "emberd_filtered_samples_total").value_or(0), 0);
}

TEST(Emberd, ServesOnAUnixSocket) {
  TempDir dir;
  Emberd emberd(dir, {"--listen", "unix:" + (dir / "emberd.sock"), "--data-dir", dir / "data"});
  ASSERT_EQ(emberd.url(), "unix:" + (dir / "emberd.sock")) << emberd.log();
  if (test::have_program("curl")) {
    std::string out;
    EXPECT_EQ(test::run_command("curl -sf --unix-socket " + (dir / "emberd.sock") + " http://localhost/healthz", &out), 0);
    EXPECT_NE(out.find("\"status\""), std::string::npos) << out;
  }
}

// Thousands of short-lived processes while emberd records the host: its process table and
// its memory stay bounded.
TEST(Emberd, ProcessChurnDoesNotGrowMemory) {
  TempDir dir;
  // Every process is seen (the table is what is bounded) but only the churn's shells are
  // recorded: the compilers and tests that share a CI machine would otherwise be symbolized too,
  // and their stacks, not the churn, decide emberd's memory (232 MB in one such run).
  std::string cfg = config_file(dir, "emberd.toml",
                                "[targets]\nnames = [\"^sh$\"]\n[profiling]\nmax_processes = 256\nfrequency = 999\n");
  // A shell that keeps sampling going, so that every window has samples and is written.
  Workload busy({"/bin/sh", "-c", "while :; do :; done"});
  Emberd emberd(dir, args(dir, cfg, "2s"));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(1, 30s));
  auto spawn_batch = [](int n) {
    // Each runs a moment of shell work so that some are sampled.
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
      pid_t pid;
      const char* argv[] = {"/bin/sh", "-c", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); done", nullptr};
      if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) == 0) {
        pids.push_back(pid);
      }
      if (pids.size() >= 16) {
        for (pid_t p : pids) ::waitpid(p, nullptr, 0);
        pids.clear();
      }
    }
    for (pid_t p : pids) ::waitpid(p, nullptr, 0);
  };
  spawn_batch(500);  // warm up: caches and tables reach their working size
  ASSERT_TRUE(emberd.wait_snapshots(3, 30s));
  // Two equal batches: a leak per process grows RSS by as much in the second as in the first,
  // while caches that reached their bounds (or the other programs on a busy CI machine, whose
  // libraries emberd also symbolizes) grow it once. So the second batch is what is judged.
  spawn_batch(2000);
  const uint64_t rss_first = test::rss_bytes(emberd.process().pid());
  spawn_batch(2000);
  auto metrics = emberd.get("/metrics").body;
  const uint64_t rss_second = test::rss_bytes(emberd.process().pid());
  EXPECT_LE(test::metric_value(metrics, "emberd_processes").value_or(1e9), 256);
  // 2000 more processes came and went: memory grew by far less than they would take if kept
  // (16 MiB is 8 KiB a process).
  EXPECT_LT(rss_second, rss_first + (16u << 20)) << "after 2500 " << rss_first << " after 4500 " << rss_second;
  EXPECT_LT(rss_second, 200u << 20);
  std::cout << "emberd RSS: " << (rss_first >> 10) << " KiB after 2500 processes, " << (rss_second >> 10)
            << " KiB after 4500\n";
}

// A real full disk (a small tmpfs): /healthz says degraded, writing resumes when space returns,
// nothing written before is damaged. Needs CAP_SYS_ADMIN to mount; skipped without it.
// Snapshots whose merged answer is large: `samples` distinct stacks of 30 frames each, in the
// windows just before now.
void write_large_store(const std::string& dir, int windows, int samples) {
  auto store = SnapshotStore::open(dir, {});
  ASSERT_TRUE(store) << store.error().message();
  const UnixNanos now = unix_now_ns();
  for (int w = 0; w < windows; ++w) {
    std::vector<test::FakeSample> many;
    for (int i = 0; i < samples; ++i) {
      std::vector<std::string> stack;
      for (int j = 0; j < 29; ++j) stack.push_back(fmt::format("function_{}", (i * 31 + j * 17) % 5000));
      stack.push_back(fmt::format("leaf_{}_{}", w, i));  // every stack distinct
      many.push_back({1000 + i % 500, "large", std::move(stack), 1 + i % 7});
    }
    const UnixNanos start = now - (windows - w + 1) * 60'000'000'000;
    (*store)->add(start, start + 60'000'000'000, std::make_shared<const std::string>(test::make_snapshot_bytes(many)));
    ASSERT_TRUE((*store)->write_pending());
  }
}

uint64_t peak_rss_bytes(pid_t pid) {
  std::string status = test::read_text(fmt::format("/proc/{}/status", pid));
  size_t at = status.find("VmHWM:");
  return at == std::string::npos ? 0 : std::strtoull(status.c_str() + at + 6, nullptr, 10) << 10;
}

TEST(Emberd, MemoryOfALargeAnswerGoesBackToTheSystem) {
  // Finding 4 of issue 16: after one large answer RSS stayed at 1.48 GB.
  TempDir dir;
  write_large_store(dir / "data", 5, 15'000);
  // No decoded snapshot kept for later queries: what stays is what the answer left behind.
  std::string cfg = config_file(dir, "emberd.toml", "[http]\ncache_bytes = 0\n");
  Emberd emberd(dir, args(dir, cfg, "60s"));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  const pid_t pid = emberd.process().pid();
  ASSERT_EQ(emberd.get("/healthz").status, 200);
  const uint64_t before = test::rss_bytes(pid);
  auto answer = emberd.get("/api/v1/folded?from=-10m");
  ASSERT_EQ(answer.status, 200) << answer.body.substr(0, 300);
  ASSERT_GT(answer.body.size(), size_t{16} << 20) << emberd.log();
  std::this_thread::sleep_for(500ms);  // the answer is sent and freed on the I/O thread
  const uint64_t after = test::rss_bytes(pid);
  const uint64_t peak = peak_rss_bytes(pid);
  std::cout << "emberd RSS: " << (before >> 20) << " MiB before, peak " << (peak >> 20) << " MiB, "
            << (after >> 20) << " MiB after a " << (answer.body.size() >> 20) << " MiB answer\n";
  ASSERT_GT(peak, before + (64u << 20)) << "the answer was not large enough to tell";
  // At most a quarter of what the answer took stays.
  EXPECT_LT(after, before + (peak - before) / 4);
}

TEST(Emberd, FullDiskIsDegradedThenRecovers) {
  TempDir dir;
  std::string mnt = dir / "data";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) GTEST_SKIP() << "cannot mount a tmpfs here";
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  Emberd emberd(dir, args(dir));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(2, 30s));
  std::map<std::string, std::string> written;
  for (const auto& f : test::list_files(mnt, ".pb.gz")) written[f] = test::read_text(mnt + "/" + f);
  test::write_text(mnt + "/filler", std::string(3 << 20, 'x'));  // more than fits
  std::string health;
  for (int i = 0; i < 200; ++i) {
    health = emberd.get("/healthz").body;
    if (health.find("\"degraded\"") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(health.find("\"degraded\""), std::string::npos) << health;
  EXPECT_NE(health.find("disk full"), std::string::npos) << health;
  EXPECT_GT(test::metric_value(emberd.get("/metrics").body, "emberd_snapshots_pending").value_or(0), 0);
  // Answers still include the windows waiting in memory.
  EXPECT_EQ(emberd.get("/api/v1/folded?from=-5s").status, 200);
  std::filesystem::remove(mnt + "/filler");
  for (int i = 0; i < 300; ++i) {
    health = emberd.get("/healthz").body;
    if (health.find("\"ok\"") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(health.find("\"ok\""), std::string::npos) << health;
  EXPECT_EQ(test::metric_value(emberd.get("/metrics").body, "emberd_snapshots_pending"), 0);
  for (const auto& [name, bytes] : written) EXPECT_EQ(test::read_text(mnt + "/" + name), bytes) << name;
  for (const auto& f : test::list_files(mnt)) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
  emberd.process().signal(SIGTERM);
  EXPECT_TRUE(emberd.process().wait(30s));
}

// Each snapshot is also pushed to a Pyroscope-compatible server.
TEST(Emberd, PushesSnapshotsToAPyroscopeServer) {
  TempDir dir;
  test::Receiver receiver({200});
  std::string cfg = config_file(dir, "emberd.toml",
                                "[push]\nurl = \"http://127.0.0.1:" + std::to_string(receiver.port()) +
                                    "\"\nlabels = { env = \"test\" }\n");
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  for (int i = 0; i < 300 && receiver.received().size() < 2; ++i) std::this_thread::sleep_for(100ms);
  auto got = receiver.received();
  ASSERT_GE(got.size(), 2u) << emberd.log();
  // One series per service (here: per process name, the test machine runs no systemd
  // services), each named SERVICE{service_name=SERVICE,host=...,env=test}.
  EXPECT_TRUE(got[0].target.starts_with("/ingest?name=")) << got[0].target;
  EXPECT_NE(got[0].target.find("%7Bservice_name%3D"), std::string::npos) << got[0].target;
  EXPECT_NE(got[0].target.find("%2Chost%3D"), std::string::npos) << got[0].target;
  EXPECT_NE(got[0].target.find("%2Cenv%3Dtest%7D"), std::string::npos);
  EXPECT_NE(got[0].target.find("&format=pprof"), std::string::npos);
  auto p = proto::decode(got[0].profile, "pushed");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_GT(p->total(0), 0);
  EXPECT_GE(test::metric_value(emberd.get("/metrics").body, "emberd_push_sent_total").value_or(0), 2);
}

// "from=...&to=..." of a range, as the API takes it.
std::string range_query(UnixNanos from, UnixNanos to, const std::string& prefix = "") {
  return prefix + "from=" + url_encode(format_time(from)) + "&" + prefix + "to=" + url_encode(format_time(to));
}

// The split of the 70/30 workload swaps to 30/70 halfway: the function series shows it at the
// step it happened, and "what changed" between the halves names the function that grew.
TEST(Emberd, FunctionSeriesAndCompareSeeTheSplitChangeHalfway) {
  constexpr int64_t kSecond = 1'000'000'000;
  TempDir dir;
  Workload w({kSeventyThirty, "--seconds", "120"});
  ASSERT_TRUE(ready(w));
  // Before emberd starts: every range asked below is then a few seconds long at least.
  const UnixNanos start = unix_now_ns() - kSecond;
  Emberd emberd(dir, args(dir));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  const std::string pid = std::to_string(w.pid());
  // Steps of 2 s (random phase lengths in the workload: no aliasing with the 99 Hz sampling).
  // A sample reaches a snapshot up to about a second after it was taken and a snapshot counts in
  // the step of its middle: steps within 3 s of the swap are not judged, nor steps with fewer
  // than 40 samples (a workload starved by a loaded machine says too little in them).
  constexpr int64_t kStep = 2 * kSecond;
  constexpr int64_t kMargin = 3 * kSecond;
  constexpr int64_t kMinSamples = 40;
  struct Step {
    UnixNanos start;
    int64_t alpha, beta;
  };
  std::string last_answer;
  auto judgeable_steps = [&](UnixNanos to) {
    std::vector<Step> out;
    auto r = emberd.get("/api/v1/series?" + range_query(start, to) + "&step=2s&pid=" + pid +
                        "&function=" + url_encode("^truth::Worker::compute_(alpha|beta)$"));
    EXPECT_EQ(r.status, 200) << r.body;
    last_answer = r.body;
    if (r.status != 200) return out;
    auto j = nlohmann::json::parse(r.body);
    std::vector<int64_t> alpha(j["steps"].size(), 0), beta(j["steps"].size(), 0);
    for (const auto& f : j["functions"]) {
      if (f["name"] == kAlpha) alpha = f["steps"]["total_samples"].get<std::vector<int64_t>>();
      if (f["name"] == kBeta) beta = f["steps"]["total_samples"].get<std::vector<int64_t>>();
    }
    for (size_t i = 0; i < alpha.size() && i < beta.size(); ++i) {
      if (alpha[i] + beta[i] >= kMinSamples) out.push_back({start + static_cast<int64_t>(i) * kStep, alpha[i], beta[i]});
    }
    return out;
  };
  // However loaded the machine: 70/30 until three steps can be judged, then 30/70 until three more.
  auto wait_for_steps = [&](auto judged) {
    for (int i = 0; i < 180; ++i) {
      const UnixNanos now = unix_now_ns();
      auto steps = judgeable_steps(now);
      if (std::count_if(steps.begin(), steps.end(), [&](const Step& st) { return judged(st, now); }) >= 3) return true;
      std::this_thread::sleep_for(1s);
    }
    return false;
  };
  ASSERT_TRUE(wait_for_steps([&](const Step& st, UnixNanos now) { return st.start + kStep <= now - kMargin; }))
      << last_answer.substr(0, 3000) << emberd.log();
  const UnixNanos swapped = unix_now_ns();
  ASSERT_EQ(::kill(w.pid(), SIGUSR1), 0);
  ASSERT_TRUE(wait_for_steps([&](const Step& st, UnixNanos) { return st.start >= swapped + kMargin; }))
      << last_answer.substr(0, 3000) << emberd.log();
  const UnixNanos end = unix_now_ns();

  int judged_before = 0, judged_after = 0;
  int64_t before[2] = {0, 0}, after[2] = {0, 0};
  for (const Step& st : judgeable_steps(end)) {
    const double alpha_share = static_cast<double>(st.alpha) / static_cast<double>(st.alpha + st.beta);
    const std::string when = format_time(st.start);
    if (st.start + kStep <= swapped - kMargin) {
      ++judged_before;
      before[0] += st.alpha;
      before[1] += st.beta;
      EXPECT_GT(alpha_share, 0.5) << "step " << when << " before the swap: " << st.alpha << " alpha, " << st.beta << " beta";
    } else if (st.start >= swapped + kMargin) {
      ++judged_after;
      after[0] += st.alpha;
      after[1] += st.beta;
      EXPECT_LT(alpha_share, 0.5) << "step " << when << " after the swap: " << st.alpha << " alpha, " << st.beta << " beta";
    }
  }
  ASSERT_GE(judged_before, 3) << last_answer.substr(0, 3000);
  ASSERT_GE(judged_after, 3) << last_answer.substr(0, 3000);
  const double share_before = static_cast<double>(before[0]) / static_cast<double>(before[0] + before[1]);
  const double share_after = static_cast<double>(after[0]) / static_cast<double>(after[0] + after[1]);
  fmt::print("alpha's share: {:.3f} over {} steps before the swap, {:.3f} over {} steps after\n", share_before,
             judged_before, share_after, judged_after);
  EXPECT_NEAR(share_before, 0.7, 0.1);
  EXPECT_NEAR(share_after, 0.3, 0.1);

  // Each snapshot of a half is one run: beta grew, alpha shrank.
  auto compare = emberd.get("/api/v1/compare?" + range_query(swapped + kMargin, end) + "&" +
                            range_query(start, swapped - kMargin, "base_") + "&pid=" + pid);
  ASSERT_EQ(compare.status, 200) << compare.body;
  auto c = nlohmann::json::parse(compare.body);
  EXPECT_EQ(c["regressed"], true) << compare.body.substr(0, 3000);
  bool beta_regressed = false, alpha_regressed = false;
  for (const auto& f : c["functions"]) {
    if (f["name"] == kBeta && f["verdict"] == "regression") beta_regressed = true;
    if (f["name"] == kAlpha && f["verdict"] == "regression") alpha_regressed = true;
  }
  EXPECT_TRUE(beta_regressed) << compare.body.substr(0, 4000);
  EXPECT_FALSE(alpha_regressed) << compare.body.substr(0, 4000);
}

// The resources of a process: its RSS rises by what it allocates, it uses CPU while it spins,
// and both are kept in the snapshots themselves: a restarted emberd without summaries serves
// the same series.
TEST(Emberd, ResourcesShowAProcessGrowAndSurviveARestart) {
  constexpr int64_t kMiB = 1 << 20;
  TempDir dir;
  Workload w({kGrowMemory, "--seconds", "120", "--mib", "200"});
  ASSERT_TRUE(ready(w));
  const std::string pid = std::to_string(w.pid());
  // Before emberd starts: every range asked below is then a few seconds long at least.
  const UnixNanos start = unix_now_ns() - 2'000'000'000;
  std::optional<Emberd> emberd(std::in_place, dir, args(dir));
  ASSERT_FALSE(emberd->url().empty()) << emberd->log();
  auto values = [&](const std::string& metric, UnixNanos to, const std::string& key = "value") {
    auto r = emberd->get("/api/v1/series?" + range_query(start, to) + "&step=1s&metric=" + metric + "&pid=" + pid);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::optional<double>> out;
    if (r.status != 200) return out;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["metric"], metric);
    for (const auto& s : j["steps"]) {
      out.push_back(s[key].is_null() ? std::nullopt : std::optional<double>(s[key].get<double>()));
    }
    return out;
  };
  auto known = [](const std::vector<std::optional<double>>& v) {
    std::vector<double> out;
    for (const auto& x : v) {
      if (x) out.push_back(*x);
    }
    return out;
  };
  // Read at least twice before it grows.
  for (int i = 0; i < 600 && known(values("rss", unix_now_ns())).size() < 2; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_GE(known(values("rss", unix_now_ns())).size(), 2u) << emberd->log();
  ASSERT_EQ(::kill(w.pid(), SIGUSR1), 0);
  ASSERT_EQ(w.read_line(60s), "grown");
  const size_t before_growth = known(values("rss", unix_now_ns())).size();
  for (int i = 0; i < 600 && known(values("rss", unix_now_ns())).size() < before_growth + 2; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  const UnixNanos end = unix_now_ns();
  const std::vector<double> rss = known(values("rss", end));
  ASSERT_GE(rss.size(), before_growth + 2) << emberd->log();
  const double rise = rss.back() - rss.front();
  fmt::print("RSS rose by {:.1f} MiB over {} readings\n", rise / kMiB, rss.size());
  EXPECT_GT(rise, 180.0 * kMiB) << "RSS from " << rss.front() << " to " << rss.back();
  EXPECT_LT(rise, 260.0 * kMiB) << "RSS from " << rss.front() << " to " << rss.back();

  // It spins: CPU in the steps it was read (user time mostly), never more than the wall time.
  const auto cpu = values("cpu", end);
  const std::vector<double> used = known(cpu);
  const std::vector<double> user = known(values("cpu", end, "user"));
  ASSERT_FALSE(used.empty());
  double total = 0;
  for (double v : used) total += v;
  EXPECT_GT(total, 0);
  EXPECT_GT(*std::max_element(user.begin(), user.end()), 0);
  EXPECT_LT(total, static_cast<double>(end - start) / 1e9 + 2);
  fmt::print("CPU used: {:.2f} s in {} steps of {:.1f} s of wall time\n", total, used.size(),
             static_cast<double>(end - start) / 1e9);
  EXPECT_GE(known(values("threads", end)).size(), rss.size());
  EXPECT_GE(known(values("ctx_switches", end)).size(), 1u);

  // /api/v1/targets: its latest reading, after the growth.
  auto targets = nlohmann::json::parse(emberd->get("/api/v1/targets").body);
  bool found = false;
  for (const auto& p : targets["processes"]) {
    if (std::to_string(p["pid"].get<int>()) != pid || p["rss_bytes"].is_null()) continue;
    found = true;
    EXPECT_GT(p["rss_bytes"].get<double>(), 200.0 * kMiB);
    EXPECT_GT(p["cpu_user_seconds"].get<double>(), 0);
    EXPECT_GE(p["threads"].get<int>(), 1);
    EXPECT_FALSE(p["voluntary_ctx_switches"].is_null());
    EXPECT_FALSE(p["io_read_bytes"].is_null());  // its own child: /proc/PID/io is readable
  }
  EXPECT_TRUE(found) << targets.dump(1).substr(0, 3000);

  // Restarted, its summaries gone: the snapshots alone give the same readings.
  emberd->process().signal(SIGTERM);
  ASSERT_TRUE(emberd->process().wait(30s));
  emberd.reset();
  std::filesystem::remove_all(dir / "data/summaries");
  emberd.emplace(dir, args(dir), "emberd2");
  ASSERT_FALSE(emberd->url().empty()) << emberd->log();
  // (The window sealed at the stop may end the range's last step, which then reads it.)
  std::vector<double> again = known(values("rss", end));
  ASSERT_GE(again.size(), rss.size());
  again.resize(rss.size() - 1);
  EXPECT_EQ(again, std::vector<double>(rss.begin(), rss.end() - 1));
}

TEST(Emberd, NamesThePythonFunctionsOfAPythonProcess) {
  const std::string python = "/usr/bin/python3.11";
  if (::access(python.c_str(), X_OK) != 0) GTEST_SKIP() << python << " is not installed";
  TempDir dir;
  Workload w({python, std::string(EMBER_SOURCE_DIR) + "/tests/integration/python/seventy_thirty.py", "60"});
  ASSERT_TRUE(ready(w));
  Emberd emberd(dir, args(dir));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(3, 60s)) << emberd.log();
  const std::string pid = std::to_string(w.pid());
  // The stored snapshots and the live window name the program's Python functions with files and
  // lines, from the module's code down, as the stacks of every other process are named.
  auto folded = emberd.get("/api/v1/folded?pid=" + pid);
  ASSERT_EQ(folded.status, 200);
  EXPECT_TRUE(std::regex_search(folded.body, std::regex(R"(;<module> \(seventy_thirty\.py:\d+\);main \(seventy_thirty\.py:\d+\);)"
                                                        R"(run \(seventy_thirty\.py:\d+\);step \(seventy_thirty\.py:\d+\);)"
                                                        R"(alpha \(seventy_thirty\.py:\d+\))")))
      << folded.body.substr(0, 3000);
  auto report = emberd.get("/api/v1/report.json?top=50&pid=" + pid);
  ASSERT_EQ(report.status, 200);
  EXPECT_NE(report.body.find("\"alpha (seventy_thirty.py)\""), std::string::npos) << report.body.substr(0, 2000);
  auto metrics = emberd.get("/metrics").body;
  EXPECT_GT(test::metric_value(metrics, "emberd_python_samples_total{outcome=\"merged\"}").value_or(0), 0) << metrics;
  EXPECT_GE(test::metric_value(metrics, "emberd_python_interpreters_total").value_or(0), 1);
}

// off_cpu = true with Python frames: the wall view names the Python function each thread waits in.
TEST(Emberd, NamesThePythonFunctionsThatWaitOffCpu) {
  const std::string python = "/usr/bin/python3.11";
  if (::access(python.c_str(), X_OK) != 0) GTEST_SKIP() << python << " is not installed";
  TempDir dir;
  std::string cfg = config_file(dir, "emberd.toml", "[profiling]\noff_cpu = true\npython = true\n");
  Workload w({python, std::string(EMBER_SOURCE_DIR) + "/tests/integration/python/wall_split.py", "60"});
  ASSERT_TRUE(ready(w));
  Emberd emberd(dir, args(dir, cfg));
  ASSERT_FALSE(emberd.url().empty()) << emberd.log();
  ASSERT_TRUE(emberd.wait_snapshots(3, 60s)) << emberd.log();
  const std::string pid = std::to_string(w.pid());
  auto folded = emberd.get("/api/v1/folded?sample_type=off_cpu&pid=" + pid);
  ASSERT_EQ(folded.status, 200);
  // Per line: 3.8-3.10 would have native call frames between the Python ones.
  const std::regex waiter(R"(;main \(wall_split\.py:\d+\);([^;]+;)*run \(wall_split\.py:\d+\);([^;]+;)*)"
                          R"(waiter \(wall_split\.py:28\);.+;\[off-cpu: blocked\] \d+$)");
  const std::regex lock_waiter(R"(;wait_for_lock \(wall_split\.py:\d+\);.+;\[off-cpu: blocked\] \d+$)");
  bool waiter_seen = false, lock_waiter_seen = false;
  std::istringstream lines(folded.body);
  for (std::string line; std::getline(lines, line);) {
    waiter_seen = waiter_seen || std::regex_search(line, waiter);
    lock_waiter_seen = lock_waiter_seen || std::regex_search(line, lock_waiter);
  }
  EXPECT_TRUE(waiter_seen) << folded.body.substr(0, 3000);
  EXPECT_TRUE(lock_waiter_seen) << folded.body.substr(0, 3000);
}

}  // namespace
}  // namespace ember::daemon
