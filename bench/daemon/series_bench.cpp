// A week of emberd snapshots (10,080 one-minute windows of a synthetic host) and the series
// over it (GET /api/v1/series?from=-7d), read through the snapshot summaries, cold (emberd's
// caches empty, the files dropped from the page cache) and warm, against the same series through
// decoding every snapshot; and what the summaries add to the store.
//
//   build/bench/daemon/ember_series_bench [--minutes N] [--variants N] [--dir DIR]
//
// Figures, not pass/fail: the goals are a week's series under 1 s cold, summaries at most 25% of
// the store.

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/files.h"
#include "daemon/api.h"
#include "daemon/live_window.h"
#include "daemon/query_engine.h"
#include "daemon/series.h"
#include "daemon/snapshot_store.h"
#include "daemon/snapshot_summary.h"
#include "daemon/status.h"
#include "profile/builder.h"
#include "proto/pprof.h"
#include "symbolizer/symbolizer.h"

namespace {

using namespace ember;
using namespace ember::daemon;
using Clock = std::chrono::steady_clock;

constexpr int64_t kMinute = 60'000'000'000;
constexpr int64_t kPeriod = 10'101'010;  // 99 Hz

class NoSymbols : public symbolizer::Symbolizer {
 public:
  std::vector<symbolizer::Symbol> symbolize(const profile::Module&, std::span<const uint64_t> offsets) override {
    return std::vector<symbolizer::Symbol>(offsets.size());
  }
  symbolizer::Stats stats() const override { return {}; }
};

class NoStatus : public StatusSource {
 public:
  DaemonStatus status() const override { return {}; }
};

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// A host as emberd sees it in a minute: 14 processes, each a few dozen distinct stacks 6-24
// deep over a pool of C++-like function names of its own and a shared libc and kernel, ~2,000
// samples (both CPUs about one sixth busy at 99 Hz).
profile::Profile synthetic_minute(std::mt19937& rng, int64_t time_ns) {
  static const std::vector<std::string> comms = {"nginx", "postgres", "redis-server", "java", "python3", "node",
                                                 "systemd-journal", "sshd", "containerd", "dockerd", "envoy",
                                                 "prometheus", "grafana", "emberd"};
  profile::ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  b.profile().period_type = profile::ValueType{b.intern("cpu"), b.intern("nanoseconds")};
  b.profile().period = kPeriod;
  b.profile().time_nanos = time_ns;
  b.profile().duration_nanos = kMinute;
  profile::Mapping m;
  m.filename = b.intern("/usr/bin/app");
  m.has_functions = true;
  const profile::MappingId mapping = b.add_mapping(m);
  std::uniform_int_distribution<int> depth(6, 24), weight(1, 60);
  for (size_t pi = 0; pi < comms.size(); ++pi) {
    const std::string& comm = comms[pi];
    const auto pid = static_cast<int32_t>(1000 + pi * 37);
    std::uniform_int_distribution<int> fn(0, 119);
    const int stacks = 20 + static_cast<int>(rng() % 30);
    for (int s = 0; s < stacks; ++s) {
      std::vector<profile::LocationId> leaf_first;
      const int d = depth(rng);
      for (int i = 0; i < d; ++i) {
        // Leaves often in libc or the kernel, as on a real host.
        std::string name = i == 0 && rng() % 3 == 0   ? fmt::format("__x64_sys_call_{}_[k]", rng() % 40)
                           : i <= 1 && rng() % 3 == 0 ? fmt::format("__memmove_avx_unaligned_erms_{}", rng() % 8)
                                                      : fmt::format("{}::detail::Handler{}::process_request(Context&)",
                                                                    comm, fn(rng));
        const profile::FunctionId f = b.add_function(name, name, fmt::format("src/{}/handler.cpp", comm));
        const profile::Line line{f, static_cast<int64_t>(10 + name.size()), 0};
        leaf_first.push_back(b.add_location(mapping, 0x1000 + (std::hash<std::string>{}(name) & 0xffff0), std::span(&line, 1)));
      }
      const int64_t n = weight(rng) / (1 + static_cast<int64_t>(pi) / 4);
      std::vector<profile::Label> labels = {
          {b.intern("pid"), {}, pid, {}},
          {b.intern("tid"), {}, pid + s % 4, {}},
          {b.intern("comm"), b.intern(comm), 0, {}},
          {b.intern("thread_comm"), b.intern(comm), 0, {}},
          {b.intern("service_name"), b.intern(comm), 0, {}},
      };
      int64_t values[] = {std::max<int64_t>(n, 1), std::max<int64_t>(n, 1) * kPeriod};
      b.add_sample(leaf_first, values, labels);
    }
  }
  return std::move(b).finish();
}

uint64_t bytes_in(const std::string& dir, const std::string& suffix) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().string().ends_with(suffix)) total += e.file_size();
  }
  return total;
}

// Out of the page cache, so that "cold" reads the disk as after a reboot.
void drop_from_page_cache(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  int minutes = 7 * 24 * 60;
  int variants = 240;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--minutes") minutes = std::atoi(argv[i + 1]);
    else if (a == "--variants") variants = std::atoi(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else {
      fmt::print(stderr, "ember_series_bench: unknown option {}\n", a);
      return 2;
    }
  }
  if (dir.empty()) dir = fmt::format("/var/tmp/ember-series-bench-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/summaries");
  fmt::print("load average before: {}\n", load_average());

  // The week: `variants` distinct minutes, each written as emberd writes it (snapshot, then
  // its summary), under the names of consecutive windows ending now.
  auto t = Clock::now();
  std::mt19937 rng(11);
  std::vector<std::pair<std::string, std::string>> files;  // snapshot, summary
  double summarize_s = 0;
  for (int v = 0; v < variants; ++v) {
    profile::Profile p = synthetic_minute(rng, 0);
    auto bytes = proto::encode(p, proto::Compression::kGzip);
    auto s0 = Clock::now();
    auto summary = encode_summary(summarize(p), bytes->size());
    summarize_s += seconds_since(s0);
    files.emplace_back(std::move(*bytes), std::move(*summary));
  }
  const int64_t end = unix_now_ns() / kMinute * kMinute;
  for (int i = 0; i < minutes; ++i) {
    const int64_t start = end - static_cast<int64_t>(minutes - i) * kMinute;
    const std::string name = SnapshotStore::file_name(start, start + kMinute);
    const auto& [snapshot, summary] = files[static_cast<size_t>(i % variants)];
    std::ofstream(dir + "/" + name, std::ios::binary) << snapshot;
    std::ofstream(dir + "/summaries/" + name.substr(0, name.size() - 6) + ".sum.gz", std::ios::binary) << summary;
  }
  const uint64_t snapshot_bytes = bytes_in(dir, ".pb.gz"), summary_bytes = bytes_in(dir + "/summaries", ".sum.gz");
  fmt::print("{} snapshots written in {:.1f} s ({} distinct minutes; summarizing one took {:.1f} ms)\n", minutes,
             seconds_since(t), variants, 1000 * summarize_s / variants);
  fmt::print("store: snapshots {:.1f} MiB ({:.1f} KiB each), summaries {:.1f} MiB ({:.1f} KiB each): +{:.1f}%\n",
             snapshot_bytes / 1048576.0, snapshot_bytes / 1024.0 / minutes, summary_bytes / 1048576.0,
             summary_bytes / 1024.0 / minutes, 100.0 * summary_bytes / snapshot_bytes);

  // Opened as emberd opens it after a reboot: each snapshot's summary vouches for it (no snapshot
  // decompressed); then, for comparison, with the summaries set aside, every snapshot checked.
  StoreLimits limits;
  limits.max_bytes = uint64_t{1} << 40;
  const std::string summaries = dir + "/summaries", aside = dir + "/summaries-aside";
  // Opened cold; the time it took in `seconds`.
  auto open_cold = [&](double& seconds) {
    drop_from_page_cache(dir);
    const auto start = Clock::now();
    auto opened = SnapshotStore::open(dir, limits);
    seconds = seconds_since(start);
    if (!opened) fmt::print(stderr, "ember_series_bench: {}\n", opened.error().message());
    return opened;
  };
  double checked_s = 0, vouched_s = 0;
  std::filesystem::rename(summaries, aside);
  if (!open_cold(checked_s)) return 1;
  std::filesystem::remove_all(summaries);
  std::filesystem::rename(aside, summaries);
  auto store = open_cold(vouched_s);
  if (!store) return 1;
  fmt::print("store opened cold in {:.2f} s with the summaries (none decompressed), {:.2f} s checking every "
             "snapshot (summaries set aside)\n\n",
             vouched_s, checked_s);
  LiveWindow live(1 << 16);
  NoSymbols symbols;
  NoStatus status;
  std::mutex handoff;
  const std::string week = fmt::format("/api/v1/series?from=-{}m", minutes);
  const std::string function = week + "&function=Handler1[0-9]::&top=10";

  struct Row {
    std::string what;
    double seconds;
    std::string note;
  };
  std::vector<Row> rows;
  for (int with_function = 0; with_function < 2; ++with_function) {
    const std::string& target = with_function ? function : week;
    // Cold: a new emberd's caches, and the files out of the page cache.
    QueryEngine queries(**store, live, symbols, handoff, uint64_t{32} << 20, 250'000);
    auto api = std::make_unique<Api>(queries, status, ApiOptions{"bench", std::chrono::hours(24 * 7)});
    drop_from_page_cache(dir);
    // Cold from the disk, warm (emberd's cache), and after a restart of emberd (its cache
    // empty, the files still in the page cache).
    for (int warm = 0; warm < 3; ++warm) {
      if (warm == 2) api = std::make_unique<Api>(queries, status, ApiOptions{"bench", std::chrono::hours(24 * 7)});
      t = Clock::now();
      HttpResponse r = api->handle(HttpRequest{"GET", target, "bench", nullptr});
      const double s = seconds_since(t);
      if (r.status != 200) {
        fmt::print(stderr, "ember_series_bench: {} answered {}: {}", target, r.status, r.body);
        return 1;
      }
      nlohmann::json j = nlohmann::json::parse(r.body);
      rows.push_back({fmt::format("summaries, {}{}", warm == 0 ? "cold" : warm == 1 ? "warm" : "page cache warm",
                                  with_function ? ", function=" : ""),
                      s,
                      fmt::format("{} steps of {}; summaries read {}, cached {}, rebuilt {}", j["steps"].size(),
                                  j["step"].get<std::string>(), j["sources"]["summaries"].get<int>(),
                                  j["sources"]["cached"].get<int>(), j["sources"]["rebuilt"].get<int>())});
    }
  }
  // The same series through decoding every snapshot (no summary read), as emberd would answer
  // it without them: the profiles' cache (http.cache_bytes, 32 MiB) holds a fraction of a week.
  for (int with_function = 0; with_function < 2; ++with_function) {
    QueryEngine queries(**store, live, symbols, handoff, uint64_t{32} << 20, 250'000);
    SeriesEngine engine(queries);
    SeriesQuery q;
    q.range = TimeRange{end - static_cast<int64_t>(minutes) * kMinute, unix_now_ns()};
    if (with_function) q.function = std::move(*common::Regex::compile("Handler1[0-9]::"));
    q.decode_only = true;
    drop_from_page_cache(dir);
    t = Clock::now();
    auto s = engine.series(q);
    const double secs = seconds_since(t);
    if (!s) return 1;
    rows.push_back({fmt::format("full decoding, cold{}", with_function ? ", function=" : ""), secs,
                    fmt::format("{} snapshots decoded", s->sources.decoded)});
  }

  fmt::print("{:<36} {:>9} {:>9}  {}\n", "series over the week", "seconds", "vs cold", "");
  for (const Row& r : rows) {
    const double cold = rows[r.what.find("function=") != std::string::npos ? 3 : 0].seconds;
    fmt::print("{:<36} {:>9.3f} {:>8.2f}x  {}\n", r.what, r.seconds, r.seconds / cold, r.note);
  }
  fmt::print("\nload average after: {}\n", load_average());
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
