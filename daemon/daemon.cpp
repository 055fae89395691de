#include "daemon/daemon.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "daemon/api.h"
#include "daemon/collector_loop.h"
#include "daemon/http_server.h"
#include "daemon/live_window.h"
#include "daemon/logfmt.h"
#include "daemon/push_client.h"
#include "daemon/query_engine.h"
#include "daemon/sd_notify.h"
#include "daemon/snapshot_store.h"
#include "daemon/snapshot_summary.h"
#include "daemon/target_filter.h"
#include "proto/pprof.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/debuginfod_client.h"
#include "symbolizer/symbolizer.h"

namespace ember::daemon {

namespace {

using namespace std::chrono_literals;

// While snapshots wait for disk space, how often writing is tried again.
constexpr auto kRetryPending = 5s;
// On SIGTERM, how long the push client may still send what is queued.
constexpr Duration kPushDrain = 5s;

StoreLimits store_limits(const Config& c) {
  return StoreLimits{c.storage.max_age, c.storage.max_bytes, c.storage.max_pending_bytes, c.storage.max_snapshot_bytes};
}

HttpServerOptions server_options(const Config& c, const ListenAddress& listen, std::string token) {
  HttpServerOptions o;
  o.listen = listen;
  o.max_connections = c.http.max_connections;
  o.max_header_bytes = c.http.max_header_bytes;
  o.max_body_bytes = c.http.max_body_bytes;
  o.read_timeout = c.http.read_timeout;
  o.idle_timeout = c.http.idle_timeout;
  o.write_timeout = c.http.write_timeout;
  o.workers = c.http.query_workers;
  o.max_queued = c.http.max_queued_queries;
  o.query_timeout = c.http.query_timeout;
  o.token = std::move(token);
  return o;
}

// The debuginfod client for [symbolizer]: null when off or without URLs. Started before the
// other threads (libdebuginfod reads its settings from the environment).
std::shared_ptr<symbolizer::DebuginfodClient> start_debuginfod(const Config& c) {
  if (!c.symbolizer.debuginfod) return nullptr;
  symbolizer::DebuginfodSettings settings;
  settings.urls = c.symbolizer.debuginfod_urls.empty() ? symbolizer::DebuginfodClient::urls_from_environment()
                                                       : c.symbolizer.debuginfod_urls;
  if (settings.urls.empty()) return nullptr;
  settings.cache_dir = c.symbolizer.debuginfod_cache_dir.empty() ? c.storage.directory + "/debuginfod"
                                                                 : c.symbolizer.debuginfod_cache_dir;
  settings.timeout = std::chrono::duration_cast<std::chrono::seconds>(c.symbolizer.debuginfod_timeout);
  settings.max_cache_bytes = c.symbolizer.debuginfod_max_cache_bytes;
  auto client = symbolizer::DebuginfodClient::create(std::move(settings));
  if (!client) {
    spdlog::warn("msg=\"debuginfod off\" error={}", lf(client.error().message()));
    return nullptr;
  }
  spdlog::info("msg=\"debuginfod on\" urls={} cache={}", lf(fmt::format("{}", fmt::join((*client)->settings().urls, " "))),
               lf((*client)->settings().cache_dir));
  return std::move(*client);
}

bool same_push(const PushConfig& a, const PushConfig& b) {
  return a == b;
}

}  // namespace

namespace {
// CPU time of the calling thread: what one snapshot costs, whatever the other threads do.
double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

class Daemon::Impl : public StatusSource {
 public:
  Impl(Config config, std::optional<std::string> path, Overrides overrides)
      : config_(std::move(config)),
        config_path_(std::move(path)),
        overrides_(std::move(overrides)),
        host_(host_name()),
        started_(unix_now_ns()),
        live_(config_.profiling.max_unique_stacks),
        collector_(live_) {}

  ~Impl() override { shutdown(); }

  Result<void> start();
  void reload();
  void shutdown();
  DaemonStatus status() const override;
  std::string url() const { return server_ ? server_->url() : std::string(); }

 private:
  void writer_loop();
  void seal_and_store();
  [[nodiscard]] Result<std::string> load_token(const Config& c) const;

  mutable std::mutex config_mutex_;  // config_, push_
  Config config_;
  std::optional<std::string> config_path_;
  Overrides overrides_;
  std::string host_;
  UnixNanos started_;

  LiveWindow live_;
  CollectorLoop collector_;
  std::unique_ptr<SnapshotStore> store_;
  symbolizer::Options symbol_options_;
  std::unique_ptr<symbolizer::Symbolizer> symbols_;
  std::mutex handoff_;
  std::unique_ptr<QueryEngine> queries_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<PushClient> push_;

  std::thread writer_;
  std::mutex writer_mutex_;
  std::condition_variable writer_cv_;
  bool writer_stop_ = false;
  bool writer_wake_ = false;
  Duration interval_;

  std::atomic<uint64_t> reloads_{0}, reload_failures_{0}, encode_failures_{0};
  // The symbolizer's counters, copied after each snapshot: asking the symbolizer itself would
  // wait for its lock, which a long symbolization holds, and /healthz and /metrics are answered
  // on the I/O thread.
  mutable std::mutex symbol_stats_mutex_;
  symbolizer::Stats symbol_stats_;
  symbolizer::DebuginfodStats debuginfod_stats_;  // the same, for the same reason
  std::once_flag shutdown_once_;
};

Result<std::string> Daemon::Impl::load_token(const Config& c) const {
  if (c.http.token_file.empty()) return std::string();
  return read_token_file(c.http.token_file);
}

Result<void> Daemon::Impl::start() {
  const Config& c = config_;
  auto store = SnapshotStore::open(c.storage.directory, store_limits(c));
  if (!store) return std::unexpected(store.error());
  store_ = std::move(*store);
  store_->apply_retention(unix_now_ns());

  symbolizer::Options& so = symbol_options_;
  so.max_cache_bytes = c.symbolizer.max_cache_bytes;
  so.max_cached_binaries = c.symbolizer.max_cached_binaries;
  so.max_perf_maps = c.symbolizer.max_perf_maps;
  so.debuginfod = start_debuginfod(c);
  symbols_ = symbolizer::make_symbolizer(so);

  if (auto ok = collector_.start(CollectorSettings{c.targets, c.profiling}); !ok) {
    return std::unexpected(ok.error().with_context("cannot start sampling"));
  }

  queries_ = std::make_unique<QueryEngine>(*store_, live_, *symbols_, handoff_, c.http.cache_bytes,
                                           c.http.max_query_samples, c.http.max_query_memory);
  api_ = std::make_unique<Api>(*queries_, *this, ApiOptions{host_, c.http.max_range, c.http.max_answer_bytes});

  auto listen = parse_listen_address(c.http.listen);
  if (!listen) return std::unexpected(listen.error());
  auto token = load_token(c);
  if (!token) return std::unexpected(token.error());
  auto server = HttpServer::start(
      server_options(c, *listen, std::move(*token)),
      [this](const HttpRequest& r) { return api_->handle(r); }, &Api::is_cheap);
  if (!server) return std::unexpected(server.error());
  server_ = std::move(*server);

  if (c.push.enabled()) {
    auto push = PushClient::start(c.push, host_);
    if (!push) return std::unexpected(push.error().with_context("push"));
    push_ = std::move(*push);
  }

  interval_ = c.storage.interval;
  writer_ = std::thread([this] { writer_loop(); });
  spdlog::info("msg=\"emberd started\" version={} url={} data_dir={} interval={} config={}", EMBER_VERSION,
               lf(server_->url()), lf(c.storage.directory), format_duration(c.storage.interval), lf(c.source));
  sd_notify("READY=1\nSTATUS=sampling and serving " + server_->url());
  return {};
}

void Daemon::Impl::writer_loop() {
  auto next = std::chrono::steady_clock::now() + interval_;
  for (;;) {
    bool pending = store_->stats().pending > 0;
    {
      std::unique_lock lock(writer_mutex_);
      auto until = pending ? std::min(next, std::chrono::steady_clock::now() + kRetryPending) : next;
      writer_cv_.wait_until(lock, until, [&] { return writer_stop_ || writer_wake_; });
      if (writer_stop_) break;
      if (writer_wake_) {
        // The interval changed: the current window ends one new interval after it began.
        writer_wake_ = false;
        next = std::min(next, std::chrono::steady_clock::now() + interval_);
      }
    }
    try {
      auto now = std::chrono::steady_clock::now();
      if (now >= next) {
        seal_and_store();
        Duration interval;
        {
          std::lock_guard lock(writer_mutex_);
          interval = interval_;
        }
        next += interval;
        if (next <= now) next = now + interval;  // fell behind (a slow disk): do not catch up in bursts
      } else if (pending) {
        (void)store_->write_pending();
      }
    } catch (const std::exception& e) {
      // Nothing may end this thread: a failed window is lost, the next one is tried.
      spdlog::error("msg=\"snapshot failed\" error={}", lf(e.what()));
    }
  }
}

void Daemon::Impl::seal_and_store() {
  LiveWindow::Sealed sealed = live_.seal(unix_now_ns());
  if (sealed.raw->total_samples() == 0) {
    live_.release_sealed();
    spdlog::debug("msg=\"empty window, no snapshot\"");
    return;
  }
  // Read now, as the window ends (symbolizing it may take seconds); processes that exited
  // since their samples are absent.
  const double read_start = thread_cpu_ms();
  std::vector<profile::ProcessResources> resources = collector_.read_resources(*sealed.raw, sealed.start);
  symbolizer::BuildOptions options;
  // One comment, the same for every window: merged answers keep each distinct comment once.
  options.comments = {fmt::format("emberd {} on {}", EMBER_VERSION, host_)};
  const double cpu_start = thread_cpu_ms();
  profile::Profile p = symbolizer::build_profile(*sealed.raw, *symbols_, options);
  const double symbolized = thread_cpu_ms();
  p.time_nanos = sealed.start;
  p.duration_nanos = sealed.end - sealed.start;
  p.resources = std::move(resources);
  auto bytes = proto::encode(p, proto::Compression::kGzip);
  const double encoded = thread_cpu_ms();
  if (!bytes) {
    encode_failures_++;
    spdlog::error("msg=\"cannot encode snapshot\" error={}", lf(bytes.error().message()));
    live_.release_sealed();
    return;
  }
  auto shared = std::make_shared<const std::string>(std::move(*bytes));
  // The summary that series read instead of the profile; without it they decode the snapshot.
  std::shared_ptr<const std::string> summary;
  if (auto s = encode_summary(summarize(p), shared->size()); s) {
    summary = std::make_shared<const std::string>(std::move(*s));
  } else {
    spdlog::warn("msg=\"cannot encode snapshot summary\" error={}", lf(s.error().message()));
  }
  const double summarized = thread_cpu_ms();
  std::string name;
  {
    // Queries see the window either as live or as stored, never both, never neither.
    std::lock_guard lock(handoff_);
    name = store_->add(sealed.start, sealed.end, shared, summary);
    live_.release_sealed();
  }
  {
    symbolizer::Stats stats = symbols_->stats();
    symbolizer::DebuginfodStats fetches;
    if (symbol_options_.debuginfod) fetches = symbol_options_.debuginfod->stats();
    std::lock_guard lock(symbol_stats_mutex_);
    symbol_stats_ = std::move(stats);
    debuginfod_stats_ = std::move(fetches);
  }
  auto written = store_->write_pending();
  spdlog::info("msg=snapshot name={} bytes={} summary_bytes={} samples={} stacks={} processes_read={} written={} "
               "resources_cpu_ms={:.1f} symbolize_cpu_ms={:.1f} encode_cpu_ms={:.1f} summary_cpu_ms={:.1f}",
               lf(name), shared->size(), summary ? summary->size() : 0, sealed.raw->total_samples(),
               sealed.raw->unique_stacks(), p.resources.size(), written.has_value(), cpu_start - read_start,
               symbolized - cpu_start, encoded - symbolized, summarized - encoded);
  store_->apply_retention(unix_now_ns());
  // Symbolizing a window reads binaries and debug files and allocates and frees a lot at
  // once: give the file pages and the free heap back instead of keeping a high-water mark
  // for the next minute (what is cached stays; the pages come back from the page cache).
  symbols_->release_memory();
  ::malloc_trim(0);

  std::shared_ptr<PushClient> push;
  PushConfig push_config;
  {
    std::lock_guard lock(config_mutex_);
    push = push_;
    push_config = config_.push;
  }
  if (push) {
    auto parts = push_parts(p, shared, push_config);
    if (parts) {
      push->enqueue(std::move(*parts), sealed.start, sealed.end);
    } else {
      spdlog::error("msg=\"push: snapshot not split into series\" error={}", lf(parts.error().message()));
    }
  }
}

void Daemon::Impl::reload() {
  sd_notify("RELOADING=1");
  auto loaded = config_path_ ? load_config_file(*config_path_) : load_default_config();
  if (loaded) {
    if (auto ok = finish_config(*loaded, overrides_); !ok) loaded = std::unexpected(ok.error());
  }
  if (!loaded) {
    reload_failures_++;
    spdlog::error("msg=\"configuration not reloaded; the running configuration stays\" error={}",
                  lf(loaded.error().message()));
    sd_notify("READY=1");
    return;
  }
  Config next = std::move(*loaded);
  Config old;
  {
    std::lock_guard lock(config_mutex_);
    old = config_;
  }
  // What only a restart can change is said, not silently ignored.
  auto needs_restart = [&](bool changed, std::string_view what) {
    if (changed) spdlog::warn("msg=\"setting changes only on restart\" setting={}", what);
  };
  needs_restart(next.storage.directory != old.storage.directory, "storage.directory");
  needs_restart(next.http.listen != old.http.listen || next.http.allow_remote != old.http.allow_remote, "http.listen");
  needs_restart(next.http.max_connections != old.http.max_connections ||
                    next.http.max_header_bytes != old.http.max_header_bytes ||
                    next.http.max_body_bytes != old.http.max_body_bytes ||
                    next.http.read_timeout != old.http.read_timeout || next.http.idle_timeout != old.http.idle_timeout ||
                    next.http.write_timeout != old.http.write_timeout ||
                    next.http.query_workers != old.http.query_workers ||
                    next.http.max_queued_queries != old.http.max_queued_queries ||
                    next.http.query_timeout != old.http.query_timeout,
                "http limits");
  needs_restart(next.symbolizer != old.symbolizer, "symbolizer");
  // Those keep their running values.
  next.storage.directory = old.storage.directory;
  next.http.listen = old.http.listen;
  next.http.allow_remote = old.http.allow_remote;

  bool ok = true;
  auto token = load_token(next);
  if (!token) {
    ok = false;
    spdlog::error("msg=\"token file not reloaded; the old token stays\" error={}", lf(token.error().message()));
    next.http.token_file = old.http.token_file;
  } else {
    server_->set_token(std::move(*token));
  }

  CollectorSettings before{old.targets, old.profiling};
  CollectorSettings after{next.targets, next.profiling};
  if (!(before == after)) {
    // The Recorder is replaced only for what it was started with; the live window stays.
    if (auto r = collector_.reconfigure(after); !r) {
      ok = false;
      spdlog::error("msg=\"sampling not reconfigured; the old targets stay\" error={}", lf(r.error().message()));
      next.targets = old.targets;
      next.profiling = old.profiling;
    }
  }
  store_->set_limits(store_limits(next));
  store_->apply_retention(unix_now_ns());
  queries_->set_limits(next.http.cache_bytes, next.http.max_query_samples, next.http.max_query_memory);
  api_->set_limits(next.http.max_range, next.http.max_answer_bytes);
  {
    std::lock_guard lock(writer_mutex_);
    if (interval_ != next.storage.interval) {
      interval_ = next.storage.interval;
      writer_wake_ = true;
    }
  }
  writer_cv_.notify_all();

  std::shared_ptr<PushClient> retired;
  if (!same_push(old.push, next.push)) {
    std::shared_ptr<PushClient> fresh;
    if (next.push.enabled()) {
      auto push = PushClient::start(next.push, host_);
      if (!push) {
        ok = false;
        spdlog::error("msg=\"push not reconfigured\" error={}", lf(push.error().message()));
        next.push = old.push;
      } else {
        fresh = std::move(*push);
      }
    }
    if (same_push(old.push, next.push) == false) {
      std::lock_guard lock(config_mutex_);
      retired = std::exchange(push_, fresh);
    }
  }
  if (retired) retired->stop(Duration(0));
  if (next.log_level != old.log_level) spdlog::set_level(spdlog::level::from_str(next.log_level));
  {
    std::lock_guard lock(config_mutex_);
    config_ = next;
  }
  reloads_++;
  if (!ok) reload_failures_++;
  spdlog::info("msg=\"configuration reloaded\" config={} targets={} interval={} max_age={} max_bytes={}",
               lf(next.source), lf(describe_targets(next.targets)), format_duration(next.storage.interval),
               format_duration(next.storage.max_age), format_bytes(next.storage.max_bytes));
  sd_notify("READY=1");
}

void Daemon::Impl::shutdown() {
  std::call_once(shutdown_once_, [this] {
    sd_notify("STOPPING=1");
    // Queries in flight stop at their next check instead of holding the exit up.
    if (server_) server_->cancel_queries("emberd is stopping");
    spdlog::info("msg=\"stopping: writing the current window\"");
    collector_.stop();  // everything sampled is in the live window now
    if (writer_.joinable()) {
      {
        std::lock_guard lock(writer_mutex_);
        writer_stop_ = true;
      }
      writer_cv_.notify_all();
      writer_.join();
      try {
        seal_and_store();
      } catch (const std::exception& e) {
        spdlog::error("msg=\"last snapshot failed\" error={}", lf(e.what()));
      }
      if (store_ && store_->stats().pending > 0) {
        spdlog::error("msg=\"snapshots could not be written before exit\" count={}", store_->stats().pending);
      }
    }
    std::shared_ptr<PushClient> push;
    {
      std::lock_guard lock(config_mutex_);
      push = push_;
    }
    if (push) push->stop(kPushDrain);
    if (server_) server_->stop();
    spdlog::info("msg=\"emberd stopped\"");
  });
}

DaemonStatus Daemon::Impl::status() const {
  DaemonStatus s;
  s.started = started_;
  s.version = EMBER_VERSION;
  s.host = host_;
  {
    std::lock_guard lock(config_mutex_);
    s.data_dir = config_.storage.directory;
    s.interval = config_.storage.interval;
    s.push_enabled = push_ != nullptr;
    if (push_) s.push = push_->stats();
  }
  s.collector = collector_.status();
  if (store_) s.store = store_->stats();
  if (queries_) s.queries = queries_->stats();
  if (server_) s.http = server_->stats();
  {
    std::lock_guard lock(symbol_stats_mutex_);
    s.symbolizer = symbol_stats_;
    s.debuginfod = debuginfod_stats_;
  }
  s.debuginfod_enabled = symbol_options_.debuginfod != nullptr;
  s.live_unique_stacks = live_.unique_stacks();
  s.live_bytes = live_.memory_bytes();
  s.reloads = reloads_;
  s.reload_failures = reload_failures_;
  return s;
}

Result<std::unique_ptr<Daemon>> Daemon::start(Config config, std::optional<std::string> config_path,
                                              Overrides overrides) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(config_path), std::move(overrides));
  if (auto ok = impl->start(); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { shutdown(); }
std::string Daemon::url() const { return impl_->url(); }
void Daemon::reload() { impl_->reload(); }
void Daemon::shutdown() { impl_->shutdown(); }
DaemonStatus Daemon::status() const { return impl_->status(); }

}  // namespace ember::daemon
