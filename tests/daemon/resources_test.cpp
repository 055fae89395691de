// Process resources: the /proc parsers on real-format text (a name with spaces and parentheses
// included), the reader's intervals over fixture /proc trees (a reused pid, an exited process,
// an unreadable io file), the resources kept in the snapshot's pprof and its summary (and
// rebuilt from the snapshot), and GET /api/v1/series?metric= and /api/v1/targets over them,
// with the 400s of a metric asked for wrongly.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "daemon/api.h"
#include "daemon/live_window.h"
#include "daemon/process_resources.h"
#include "daemon/query_engine.h"
#include "daemon/snapshot_store.h"
#include "daemon/snapshot_summary.h"
#include "daemon/url.h"
#include "profiles.h"
#include "proto/pprof.h"
#include "proto/resources_field.h"
#include "proto/wire.h"
#include "test_support.h"
#include "tests/support/fake_symbolizer.h"

namespace ember::daemon {
namespace {


// /proc/PID/stat of a program that named itself "my (odd) prog) x": the name ends at the last ')'.
// utime 250, stime 50 ticks; 3 threads; started 5000 ticks after boot; vsize 3133440; rss 365 pages.
constexpr std::string_view kStat =
    "4242 (my (odd) prog) x) S 10268 10268 4038 0 -1 4194304 98 0 0 0 250 50 0 0 20 0 3 0 5000 3133440 365 "
    "18446744073709551615 94560819630080 94560819649961 140728426903088 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
    "94560819665968 94560819667584 94560827068416 140728426904203 140728426904223 140728426904223 "
    "140728426905579 0\n";

std::string status_text(int64_t rss_kb, int threads, int voluntary, int involuntary) {
  return fmt::format(
      "Name:\tmy (odd) prog) x\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\n"
      "PPid:\t10268\nTracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t256\nGroups:\t \n"
      "VmPeak:\t    3060 kB\nVmSize:\t    3060 kB\nVmLck:\t       0 kB\nVmHWM:\t    1732 kB\n"
      "VmRSS:\t{:8} kB\nRssAnon:\t     112 kB\nRssFile:\t    1620 kB\nVmSwap:\t       0 kB\n"
      "Threads:\t{}\nSigQ:\t0/96367\nSigPnd:\t0000000000000000\nCpus_allowed_list:\t0-1\n"
      "voluntary_ctxt_switches:\t{}\nnonvoluntary_ctxt_switches:\t{}\n",
      rss_kb, threads, voluntary, involuntary);
}

std::string io_text(int64_t read, int64_t write) {
  return fmt::format("rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: {}\nwrite_bytes: {}\n"
                     "cancelled_write_bytes: 0\n",
                     read, write);
}

// A stat line with the given fields (the rest as kStat's).
std::string stat_text(int pid, const std::string& comm, uint64_t utime, uint64_t stime, uint64_t start) {
  return fmt::format("{} ({}) S 1 1 1 0 -1 4194304 98 0 0 0 {} {} 0 0 20 0 1 0 {} 3133440 365 0 0 0 0\n", pid, comm,
                     utime, stime, start);
}

TEST(ProcParse, StatTakesTheNameUpToTheLastParenthesis) {
  auto s = parse_proc_stat(kStat);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->pid, 4242);
  EXPECT_EQ(s->comm, "my (odd) prog) x");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 50u);
  EXPECT_EQ(s->threads, 3);
  EXPECT_EQ(s->start_ticks, 5000u);
  EXPECT_EQ(s->vsize_bytes, 3133440u);
  EXPECT_EQ(s->rss_pages, 365);
  // A name that is only a space and a parenthesis.
  auto odd = parse_proc_stat(stat_text(7, " )", 1, 2, 3));
  ASSERT_TRUE(odd) << odd.error().message();
  EXPECT_EQ(odd->comm, " )");
  EXPECT_EQ(odd->utime_ticks, 1u);
  EXPECT_EQ(odd->start_ticks, 3u);
}

TEST(ProcParse, StatRefusesWhatIsNotAStatLine) {
  auto message = [](std::string_view text) {
    auto s = parse_proc_stat(text);
    return s ? std::string("parsed") : s.error().message();
  };
  EXPECT_EQ(message(""), "/proc stat line: no process name in parentheses");
  EXPECT_EQ(message("12 (cat) R 1 2 3"), "/proc stat line: 4 fields after the name, fewer than 22");
  EXPECT_EQ(message("x1 (cat) R 1"), "/proc stat line: pid 'x1' is not a number");
  EXPECT_EQ(message(stat_text(1, "cat", 1, 2, 3).replace(8, 1, "RS")), "/proc stat line: state 'RS' is not one letter");
  std::string bad = stat_text(1, "cat", 1, 2, 3);
  bad.replace(bad.find(" 1 2 0 0 20"), 2, " x");
  EXPECT_EQ(message(bad), "/proc stat line: a number field (utime, stime, num_threads, starttime, vsize or rss) is not a number");
}

TEST(ProcParse, StatusGivesRssThreadsAndContextSwitches) {
  auto s = parse_proc_status(status_text(1732, 4, 120, 7));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->rss_bytes, 1732 * 1024);
  EXPECT_EQ(s->threads, 4);
  EXPECT_EQ(s->voluntary_ctx_switches, 120);
  EXPECT_EQ(s->involuntary_ctx_switches, 7);
  // A kernel thread has no VmRSS line: no memory of its own.
  std::string kernel = status_text(0, 1, 3, 4);
  kernel.erase(kernel.find("VmRSS"), kernel.find("RssAnon") - kernel.find("VmRSS"));
  auto k = parse_proc_status(kernel);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->rss_bytes, 0);
  EXPECT_EQ(parse_proc_status("Name:\tcat\n").error().message(),
            "/proc status: no Threads, voluntary_ctxt_switches or nonvoluntary_ctxt_switches line");
  EXPECT_EQ(parse_proc_status("Threads:\tmany\n").error().message(), "/proc status: Threads is not a number");
  // Counts have no sign, and a size in kB must still fit in bytes.
  EXPECT_EQ(parse_proc_status(status_text(1732, -4, 120, 7)).error().message(), "/proc status: Threads is not a number");
  EXPECT_EQ(parse_proc_status(status_text(INT64_MAX / 512, 4, 120, 7)).error().message(),
            "/proc status: VmRSS is out of range");
}

TEST(ProcParse, IoGivesStorageBytes) {
  auto io = parse_proc_io(io_text(4096, 8192));
  ASSERT_TRUE(io) << io.error().message();
  EXPECT_EQ(io->read_bytes, 4096);
  EXPECT_EQ(io->write_bytes, 8192);
  EXPECT_FALSE(parse_proc_io("rchar: 1\n"));
  EXPECT_FALSE(parse_proc_io("read_bytes: x\nwrite_bytes: 1\n"));
  EXPECT_FALSE(parse_proc_io("read_bytes: -4096\nwrite_bytes: 1\n"));
}

TEST(ProcParse, ReadsThisProcess) {
  ResourceReader reader;
  ResourceReadStats stats;
  const int32_t self = static_cast<int32_t>(::getpid());
  auto now = ResourceReader::Clocks::now();
  auto r = reader.read(std::span(&self, 1), now.unix_ns - test::kSecond, now, stats);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].pid, self);
  EXPECT_GT(r[0].rss_bytes, 0);
  EXPECT_GE(r[0].threads, 1);
  EXPECT_EQ(stats.read, 1u);
}

// A /proc tree of fixture files.
class FixtureProc {
 public:
  void write(int pid, const std::string& stat, const std::string& status, std::optional<std::string> io) {
    const std::string d = dir_ / std::to_string(pid);
    std::filesystem::create_directories(d);
    test::write_text(d + "/stat", stat);
    test::write_text(d + "/status", status);
    if (io) {
      test::write_text(d + "/io", *io);
    } else {
      std::filesystem::remove(d + "/io");
    }
  }
  void remove(int pid) { std::filesystem::remove_all(dir_ / std::to_string(pid)); }
  std::string root() const { return dir_.path(); }

 private:
  test::TempDir dir_;
};

TEST(ResourceReader, GivesWhatEachProcessUsedSinceItsLastReading) {
  FixtureProc proc;
  ResourceReader reader(proc.root());
  const int64_t tick = 1'000'000'000 / ::sysconf(_SC_CLK_TCK);
  // Booted at Unix time 1e9 s: boot clock = unix - 1e9 s.
  const UnixNanos boot_at = 1'000'000'000 * test::kSecond;
  auto clocks = [&](UnixNanos unix_ns) { return ResourceReader::Clocks{unix_ns, unix_ns - boot_at}; };
  const UnixNanos t1 = boot_at + 1000 * test::kSecond;
  // pid 1 started long ago; pid 2 started 5 s into the window ending at t1 (a 60 s window).
  const uint64_t ticks_per_second = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  proc.write(1, stat_text(1, "old one", 100, 20, 10 * ticks_per_second), status_text(1000, 2, 50, 5), io_text(4096, 0));
  proc.write(2, stat_text(2, "new one", 30, 10, 945 * ticks_per_second), status_text(2000, 1, 10, 1), std::nullopt);
  const std::vector<int32_t> pids = {1, 2, 3};  // 3 exited before it was read
  ResourceReadStats stats;
  auto first = reader.read(pids, t1 - test::kMinute, clocks(t1), stats);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(stats.read, 2u);
  EXPECT_EQ(stats.exited, 1u);
  EXPECT_EQ(stats.io_unreadable, 1u);
  EXPECT_EQ(first[0].pid, 1);
  EXPECT_EQ(first[0].time_ns, t1);
  EXPECT_EQ(first[0].rss_bytes, 1000 * 1024);
  EXPECT_EQ(first[0].threads, 2);
  EXPECT_TRUE(first[0].has_io);
  EXPECT_EQ(first[0].total.io_read_bytes, 4096);
  EXPECT_EQ(first[0].total.cpu_user_ns, 100 * tick);
  EXPECT_EQ(first[0].total.cpu_system_ns, 20 * tick);
  EXPECT_FALSE(first[0].has_interval);  // running before the window: what it used in it is unknown
  EXPECT_EQ(first[1].pid, 2);
  EXPECT_FALSE(first[1].has_io);
  ASSERT_TRUE(first[1].has_interval);  // started in the window: all it used, it used there
  EXPECT_EQ(first[1].interval.cpu_user_ns, 30 * tick);
  EXPECT_EQ(first[1].interval.voluntary_ctx_switches, 10);

  // A minute later: pid 1 used 50 more user ticks; pid 2 exited and its pid was reused by a
  // process started before this window began (so its use in the window is unknown).
  proc.write(1, stat_text(1, "old one", 150, 25, 10 * ticks_per_second), status_text(3000, 2, 80, 9), io_text(8192, 100));
  proc.write(2, stat_text(2, "reused", 5, 5, 900 * ticks_per_second), status_text(10, 1, 1, 1), std::nullopt);
  const UnixNanos t2 = t1 + test::kMinute;
  auto second = reader.read(pids, t1, clocks(t2), stats);
  ASSERT_EQ(second.size(), 2u);
  ASSERT_TRUE(second[0].has_interval);
  EXPECT_EQ(second[0].interval.cpu_user_ns, 50 * tick);
  EXPECT_EQ(second[0].interval.cpu_system_ns, 5 * tick);
  EXPECT_EQ(second[0].interval.io_read_bytes, 4096);
  EXPECT_EQ(second[0].interval.io_write_bytes, 100);
  EXPECT_EQ(second[0].interval.voluntary_ctx_switches, 30);
  EXPECT_EQ(second[0].interval.involuntary_ctx_switches, 4);
  EXPECT_EQ(second[0].rss_bytes, 3000 * 1024);
  EXPECT_FALSE(second[1].has_interval);
  EXPECT_EQ(stats.read, 4u);
  EXPECT_EQ(stats.exited, 2u);
}

TEST(ResourceReader, ReadsTheBusiestProcessesOfAWindow) {
  profile::RawProfile window;
  auto add = [&](int32_t pid, uint64_t samples) {
    profile::SampleOrigin o;
    o.pid = pid;
    o.tid = pid;
    window.add_sample(o, {}, samples, samples);
  };
  add(0, 100);  // the idle task: no /proc entry
  add(30, 5);
  add(10, 50);
  add(20, 20);
  EXPECT_EQ(busiest_processes(window, 10), (std::vector<int32_t>{10, 20, 30}));
  EXPECT_EQ(busiest_processes(window, 2), (std::vector<int32_t>{10, 20}));
}

profile::ProcessResources reading(int32_t pid, UnixNanos time, int64_t rss, int64_t user_ms, bool io,
                                  bool interval = true) {
  profile::ProcessResources r;
  r.pid = pid;
  r.time_ns = time;
  r.rss_bytes = rss;
  r.threads = 3;
  r.has_io = io;
  r.total = {user_ms * 10'000'000, 2'000'000'000, io ? 1 << 20 : 0, io ? 2 << 20 : 0, 900, 90};
  r.has_interval = interval;
  if (interval) r.interval = {user_ms * 1'000'000, 1'000'000, io ? 4096 : 0, io ? 8192 : 0, 30, 3};
  return r;
}

TEST(ResourcesInSnapshots, KeptInThePprofAndItsSummary) {
  profile::Profile p = test::make_profile({{10, "nginx", {"main", "serve"}, 5}});
  p.resources = {reading(10, 123 * test::kSecond, 5 << 20, 250, true), reading(20, 124 * test::kSecond, 1 << 20, 0, false, false),
                 reading(-1, 5, 0, 0, false)};
  auto bytes = proto::encode(p);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto back = proto::decode(*bytes, "snapshot");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->resources, p.resources);
  EXPECT_EQ(back->total(0), 5);  // the profile itself unchanged

  auto summary = encode_summary(summarize(*back), bytes->size());
  ASSERT_TRUE(summary);
  auto s = decode_summary(*summary, bytes->size(), false);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->resources, p.resources);
  // A damaged record is refused, not half believed.
  auto raw = proto::encode(p, proto::Compression::kNone);
  ASSERT_TRUE(raw);
  std::string record;
  proto::wire::put_varint_field(record, 3, 4096);  // an RSS, but whose?
  std::string hostile = *raw;
  proto::wire::put_bytes_field(hostile, proto::kResourcesFieldNumber, record);
  auto refused = proto::decode(hostile, "hostile.pb");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "hostile.pb: ember resources: a process without its pid");
  // Other readers skip the field: the file still starts like a pprof profile.
  EXPECT_TRUE(proto::looks_like_pprof(*raw));
}

class ResourceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SnapshotStore::open(dir_.path(), {});
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    // pid 10 in minutes 0, 1 and 3 (not profiled in minute 2); minute 1 has two readings
    // (30 s snapshots); its I/O is readable from minute 1 on. pid 20 only in minute 3.
    add_snapshot(t0_, test::kMinute, {reading(10, t0_ + test::kMinute, 100 << 20, 500, false, false)});
    add_snapshot(t0_ + test::kMinute, test::kMinute / 2, {reading(10, t0_ + 90 * test::kSecond, 150 << 20, 300, true)});
    add_snapshot(t0_ + 90 * test::kSecond, test::kMinute / 2, {reading(10, t0_ + 2 * test::kMinute, 180 << 20, 200, true)});
    add_snapshot(t0_ + 3 * test::kMinute, test::kMinute,
                 {reading(10, t0_ + 4 * test::kMinute, 120 << 20, 100, true), reading(20, t0_ + 4 * test::kMinute, 1 << 20, 0, false)});
    ASSERT_TRUE(store_->write_pending());
    queries_ = std::make_unique<QueryEngine>(*store_, live_, symbols_, handoff_, 64 << 20, 1'000'000);
    api_ = std::make_unique<Api>(*queries_, status_, ApiOptions{"testhost", std::chrono::hours(24 * 7)});
  }

  void add_snapshot(UnixNanos start, UnixNanos length, std::vector<profile::ProcessResources> resources) {
    profile::Profile p = test::make_profile({{10, "nginx", {"main", "serve"}, 5}, {20, "postgres", {"main", "query"}, 1}});
    p.resources = std::move(resources);
    auto bytes = proto::encode(p);
    ASSERT_TRUE(bytes);
    auto shared = std::make_shared<const std::string>(std::move(*bytes));
    auto summary = encode_summary(summarize(p), shared->size());
    ASSERT_TRUE(summary);
    store_->add(start, start + length, shared, std::make_shared<const std::string>(std::move(*summary)));
  }

  HttpResponse get(const std::string& target) { return api_->handle(HttpRequest{"GET", target, "test", nullptr}); }

  std::string range() {
    return "from=" + url_encode(format_time(t0_)) + "&to=" + url_encode(format_time(t0_ + 5 * test::kMinute)) + "&step=1m";
  }

  nlohmann::json series(const std::string& query) {
    HttpResponse r = get("/api/v1/series?" + range() + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? nlohmann::json::parse(r.body) : nlohmann::json::object();
  }

  static nlohmann::json values(const nlohmann::json& j, const std::string& key = "value") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : j["steps"]) out.push_back(s[key]);
    return out;
  }

  test::TempDir dir_;
  const UnixNanos t0_ = unix_now_ns() / test::kMinute * test::kMinute - 30 * test::kMinute;
  std::unique_ptr<SnapshotStore> store_;
  LiveWindow live_{1 << 16};
  ember::testing::FakeSymbolizer symbols_{"fn_"};
  std::mutex handoff_;
  class NoStatus : public StatusSource {
   public:
    DaemonStatus status() const override { return {}; }
  } status_;
  std::unique_ptr<QueryEngine> queries_;
  std::unique_ptr<Api> api_;
};

TEST_F(ResourceApiTest, RssIsTheLastReadingOfEachStepAndNullWithoutOne) {
  nlohmann::json j = series("&metric=rss&pid=10");
  EXPECT_EQ(j["metric"], "rss");
  EXPECT_EQ(j["unit"], "bytes");
  EXPECT_EQ(j["step"], "1m");
  EXPECT_EQ(j["step_seconds"], 60.0);
  EXPECT_EQ(j["filter"], "pid=10");
  EXPECT_EQ(j["from"], format_time(t0_));
  ASSERT_EQ(j["steps"].size(), 5u);
  EXPECT_EQ(j["steps"][1]["start"], format_time(t0_ + test::kMinute));
  EXPECT_EQ(values(j), nlohmann::json::parse(fmt::format("[{}, {}, null, {}, null]", 100 << 20, 180 << 20, 120 << 20)));
  EXPECT_EQ(values(series("&metric=threads&pid=10")), nlohmann::json::parse("[3, 3, null, 3, null]"));
  EXPECT_EQ(values(series("&metric=rss&pid=20")), nlohmann::json::parse(fmt::format("[null, null, null, {}, null]", 1 << 20)));
  EXPECT_EQ(values(series("&metric=rss&pid=99")), nlohmann::json::parse("[null, null, null, null, null]"));
}

TEST_F(ResourceApiTest, CpuIoAndSwitchesAreWhatTheStepUsed) {
  nlohmann::json cpu = series("&metric=cpu&pid=10");
  EXPECT_EQ(cpu["unit"], "seconds");
  // Minute 0's reading has no interval (the process ran before): null, not zero.
  EXPECT_EQ(values(cpu), nlohmann::json::parse("[null, 0.502, null, 0.101, null]"));
  EXPECT_EQ(values(cpu, "user"), nlohmann::json::parse("[null, 0.5, null, 0.1, null]"));
  EXPECT_EQ(values(cpu, "system"), nlohmann::json::parse("[null, 0.002, null, 0.001, null]"));
  EXPECT_EQ(values(series("&metric=io_read&pid=10")), nlohmann::json::parse("[null, 8192, null, 4096, null]"));
  EXPECT_EQ(values(series("&metric=io_write&pid=10")), nlohmann::json::parse("[null, 16384, null, 8192, null]"));
  // pid 20's I/O could not be read: null, whatever its CPU.
  EXPECT_EQ(values(series("&metric=io_read&pid=20")), nlohmann::json::parse("[null, null, null, null, null]"));
  nlohmann::json ctx = series("&metric=ctx_switches&pid=10");
  EXPECT_EQ(ctx["unit"], "switches");
  EXPECT_EQ(values(ctx), nlohmann::json::parse("[null, 66, null, 33, null]"));
  EXPECT_EQ(values(ctx, "voluntary"), nlohmann::json::parse("[null, 60, null, 30, null]"));
  EXPECT_EQ(values(ctx, "involuntary"), nlohmann::json::parse("[null, 6, null, 3, null]"));
}

TEST_F(ResourceApiTest, SummaryRebuiltFromTheSnapshotGivesTheSameSeries) {
  const nlohmann::json before = values(series("&metric=cpu&pid=10"));
  for (const std::string& name : test::list_files(dir_.path() + "/summaries", ".sum.gz")) {
    test::write_text(dir_.path() + "/summaries/" + name, "ember-summary-3\ndamaged");
  }
  api_ = std::make_unique<Api>(*queries_, status_, ApiOptions{"testhost", std::chrono::hours(24 * 7)});
  nlohmann::json j = series("&metric=cpu&pid=10");
  EXPECT_EQ(values(j), before);
  EXPECT_EQ(j["sources"]["rebuilt"], 4);
  // And the same read through decoding every snapshot.
  ResourceQuery q;
  q.range = {t0_, t0_ + 5 * test::kMinute};
  q.step_ns = test::kMinute;
  q.pid = 10;
  q.decode_only = true;
  SeriesEngine engine(*queries_);
  auto s = engine.resources(q);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->steps.size(), 5u);
  ASSERT_TRUE(s->steps[1].used);
  EXPECT_EQ(s->steps[1].used->cpu_user_ns, 500'000'000);
  EXPECT_EQ(s->steps[1].last->rss_bytes, 180 << 20);
}

TEST_F(ResourceApiTest, TargetsCarryTheLatestResources) {
  HttpResponse r = get("/api/v1/targets?from=" + url_encode(format_time(t0_)) + "&to=" +
                       url_encode(format_time(t0_ + 5 * test::kMinute)));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  bool nginx = false, postgres = false;
  for (const auto& row : j["processes"]) {
    if (row["pid"] == 10) {
      nginx = true;
      EXPECT_EQ(row["rss_bytes"], 120 << 20);  // minute 3's, the latest
      EXPECT_EQ(row["resources_time"], format_time(t0_ + 4 * test::kMinute));
      EXPECT_DOUBLE_EQ(row["cpu_user_seconds"].get<double>(), 1.0);
      EXPECT_DOUBLE_EQ(row["cpu_system_seconds"].get<double>(), 2.0);
      EXPECT_EQ(row["io_read_bytes"], 1 << 20);
      EXPECT_EQ(row["io_write_bytes"], 2 << 20);
      EXPECT_EQ(row["threads"], 3);
      EXPECT_EQ(row["voluntary_ctx_switches"], 900);
      EXPECT_EQ(row["involuntary_ctx_switches"], 90);
    }
    if (row["pid"] == 20) {
      postgres = true;
      EXPECT_EQ(row["rss_bytes"], 1 << 20);
      EXPECT_TRUE(row["io_read_bytes"].is_null());  // not readable
    }
  }
  EXPECT_TRUE(nginx && postgres) << r.body;
}

TEST_F(ResourceApiTest, AMetricAskedWronglyIsA400WithTheReason) {
  auto expect_400 = [&](const std::string& query, const std::string& why) {
    HttpResponse r = get("/api/v1/series?" + range() + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_EQ(r.body, why + "\n") << query;
  };
  expect_400("&metric=rss", "pid: metric=rss needs the pid of one process (pid=PID)");
  expect_400("&metric=cpu&pid=1,2", "pid: metric=cpu needs the pid of one process (pid=PID), not 2");
  expect_400("&metric=rss&pid=10&function=serve",
             "function: not with metric= (a metric is a process's, not a function's)");
  expect_400("&metric=rss&pid=10&comm=nginx", "comm: not with metric= (a metric takes pid= only)");
  expect_400("&metric=memory&pid=10",
             "metric: unknown metric 'memory' (valid: rss, cpu, io_read, io_write, threads, ctx_switches)");
  expect_400("&metric=rss&metric=cpu&pid=10", "metric: given more than once");
}

}  // namespace
}  // namespace ember::daemon
