#pragma once
// emberd: the parts wired together.
//
//   collector thread   Recorder → LiveWindow (about once a second)        collector_loop.h
//   writer thread      every interval: seal the window, symbolize, encode, store, retention,
//                      push; retries pending snapshots while the disk is full
//   HTTP I/O thread    Beast connections; cheap answers inline                http_server.h
//   query workers      flamegraphs, merged profiles (http.query_workers)      query_engine.h
//   push thread        Pyroscope ingest client, when [push] is set             push_client.h
//   main thread        signals: SIGHUP reloads, SIGTERM/SIGINT stop            main.cpp

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/error.h"
#include "daemon/config.h"
#include "daemon/status.h"

namespace ember::daemon {

class Daemon : public StatusSource {
 public:
  // Opens the store, starts sampling, serving and writing. `config_path` is re-read on reload
  // (none: the embedded default).
  [[nodiscard]] static Result<std::unique_ptr<Daemon>> start(Config config, std::optional<std::string> config_path,
                                               Overrides overrides);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Where the API is served: "http://127.0.0.1:7070/" or "unix:/path".
  std::string url() const;
  // SIGHUP: re-reads the configuration and applies what can change while running. A bad file
  // changes nothing (one error line).
  void reload();
  // SIGTERM: stops sampling, writes the current window, stops serving. Idempotent.
  void shutdown();

  DaemonStatus status() const override;

  class Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The machine's name, for titles, file names and the push series.
std::string host_name();

}  // namespace ember::daemon
