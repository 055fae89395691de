// emberd: the continuous profiling service. A thin main over ember::daemon: options, logging,
// signals.

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/http_server.h"
#include "daemon/push_tls.h"
#include "daemon/logfmt.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

// Messages from other modules are plain sentences; the daemon's own are logfmt already
// ("msg=..."). Either way a line is logfmt: level=warning msg="...".
class LogfmtMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string line = payload.starts_with("msg=") ? std::string(payload) : "msg=" + ember::daemon::lf(payload);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LogfmtMessage>(); }
};

void init_daemon_logging(const std::string& level) {
  ember::common::init_logging(ember::common::LogStyle::kDaemon, level);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LogfmtMessage>('*').set_pattern("level=%l %*");
  spdlog::default_logger()->set_formatter(std::move(formatter));
  spdlog::default_logger()->flush_on(spdlog::level::info);
}

void fail(const std::string& message) { fmt::print(stderr, "emberd: {}\n", message); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"emberd: always-on CPU profiling of this host. Samples every process (or the ones the\n"
               "configuration names), keeps a snapshot per interval, and serves flamegraphs, pprof and\n"
               "metrics over HTTP.",
               "emberd"};
  app.set_version_flag("--version", "emberd " EMBER_VERSION);
  std::optional<std::string> config_path;
  std::optional<std::string> check_path;
  std::optional<std::string> listen, data_dir, interval, log_level;
  std::optional<uint32_t> frequency;
  app.add_option("-c,--config", config_path, "Configuration file (TOML) [default: the embedded default]");
  app.add_option("--check-config", check_path,
                 "Validate FILE, print the effective configuration and exit (0: valid, 2: not)");
  app.add_option("--listen", listen, "Serve on ADDR:PORT (port 0 picks a free one) or unix:PATH");
  app.add_option("--data-dir", data_dir, "Where snapshots are stored");
  app.add_option("--interval", interval, "Snapshot interval, e.g. 60s, 5m");
  app.add_option("--frequency", frequency, "Samples per second per CPU")->check(CLI::Range(1u, 10000u));
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error [default: from the configuration]");
  app.footer(
      "\nThe command line overrides the file, at start and at every reload (SIGHUP).\n"
      "Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT write the current window and exit.\n"
      "Exit status: 0 after a clean stop, 1 when emberd cannot run, 2 for a bad configuration.");
  ember::common::make_strict(app, std::vector<std::string>(argv + 1, argv + argc), false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fail(ember::common::explain_parse_error(app, e));
    fmt::print(stderr, "Run 'emberd --help' for usage.\n");
    return kExitConfig;
  }

  ember::daemon::Overrides overrides;
  overrides.listen = listen;
  overrides.data_dir = data_dir;
  overrides.frequency_hz = frequency;
  if (interval) {
    auto d = ember::daemon::parse_duration(*interval);
    if (!d) {
      fail("--interval: " + d.error().message());
      return kExitConfig;
    }
    overrides.interval = *d;
  }

  if (check_path) {
    auto config = ember::daemon::load_config_file(*check_path);
    if (config) {
      if (auto ok = ember::daemon::finish_config(*config, overrides); !ok) config = std::unexpected(ok.error());
    }
    if (config && !config->http.token_file.empty()) {
      if (auto t = ember::daemon::read_token_file(config->http.token_file); !t) {
        config = std::unexpected(t.error().with_context("http.token_file"));
      }
    }
    // The push secrets and TLS files are read as the push client will read them: a bad one
    // fails the check, the secrets themselves are never printed.
    if (config && config->push.enabled()) {
      if (auto a = ember::daemon::push_authorization(config->push); !a) {
        config = std::unexpected(a.error());
      } else if (config->push.url.starts_with("https://")) {
        if (auto t = ember::daemon::make_push_tls_context(config->push); !t) config = std::unexpected(t.error());
      }
    }
    if (!config) {
      fail(config.error().message());
      return kExitConfig;
    }
    fmt::print("{}", ember::daemon::format_config(*config));
    return kExitOk;
  }

  auto config = config_path ? ember::daemon::load_config_file(*config_path) : ember::daemon::load_default_config();
  if (config) {
    if (auto ok = ember::daemon::finish_config(*config, overrides); !ok) config = std::unexpected(ok.error());
  }
  if (!config) {
    fail(config.error().message());
    return kExitConfig;
  }
  init_daemon_logging(log_level.value_or(config->log_level));
  // A handful of threads, mostly idle: one malloc arena per core (glibc's default is eight)
  // would keep each thread's freed memory apart and the resident size high.
  ::mallopt(M_ARENA_MAX, 2);

  // Signals are taken by this thread alone (sigtimedwait below): every thread started from
  // here on inherits the blocked mask, so no handler runs inside a library call.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto daemon = ember::daemon::Daemon::start(std::move(*config), config_path, overrides);
  if (!daemon) {
    spdlog::critical("msg=\"cannot start\" error={}", ember::daemon::lf(daemon.error().message()));
    fail(daemon.error().message());
    return kExitFailure;
  }
  fmt::print("emberd: serving {}\n", (*daemon)->url());
  std::fflush(stdout);

  for (;;) {
    siginfo_t info{};
    timespec wait{1, 0};
    int s = ::sigtimedwait(&signals, &info, &wait);
    if (s == SIGHUP) {
      spdlog::info("msg=\"SIGHUP: reloading the configuration\"");
      (*daemon)->reload();
    } else if (s == SIGTERM || s == SIGINT) {
      spdlog::info("msg=\"{}: stopping\"", s == SIGTERM ? "SIGTERM" : "SIGINT");
      (*daemon)->shutdown();
      break;
    }
  }
  daemon->reset();
  return kExitOk;
}
