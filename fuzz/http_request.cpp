// emberd's request handling without a socket: raw request bytes through Beast's parser with
// emberd's default limits (what http_server.cpp does before anything else), then the method and
// target through the API's routing and parameter checks (Api::handle), against a live window
// with one small profile and an empty store, as a daemon that has just started would answer.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/api.h"
#include "daemon/live_window.h"
#include "daemon/query_engine.h"
#include "daemon/snapshot_store.h"
#include "tests/support/fake_symbolizer.h"
#include "tests/support/temp_dir.h"

namespace {

namespace http = boost::beast::http;
using namespace ember;
using namespace ember::daemon;

class Status : public StatusSource {
 public:
  DaemonStatus status() const override {
    DaemonStatus s;
    s.version = "fuzz";
    s.started = unix_now_ns();
    s.collector.running = true;
    s.collector.targets = "all processes";
    return s;
  }
};

struct Daemon {
  Daemon() {
    auto s = SnapshotStore::open(dir.path(), {});
    if (!s) __builtin_trap();
    store = std::move(*s);
    profile::RawProfile raw;
    auto module = std::make_shared<profile::Module>();
    module->path = "/usr/bin/app";
    profile::ModuleId m = raw.add_module(module);
    profile::RawFrame frames[] = {{m, 0x10}, {m, 0x20}, {m, 0x30}};
    raw.add_sample(profile::SampleOrigin{40, 41, raw.intern("app"), raw.intern("worker")}, frames, 10'000'000, 3);
    live.add(raw);
    queries = std::make_unique<QueryEngine>(*store, live, symbols, handoff, 8 << 20, 100'000);
    api = std::make_unique<Api>(*queries, status, ApiOptions{"fuzzhost", std::chrono::hours(24)});
  }
  testing::TempDir dir;
  std::unique_ptr<SnapshotStore> store;
  LiveWindow live{1 << 12};
  testing::FakeSymbolizer symbols{"fn_"};
  std::mutex handoff;
  Status status;
  std::unique_ptr<QueryEngine> queries;
  std::unique_ptr<Api> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Daemon* daemon = new Daemon();  // one per fuzzing process, as emberd has one
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);  // http.max_header_bytes and max_body_bytes, by default
  parser.body_limit(4 * 1024);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  if (req.method() != http::verb::get && req.method() != http::verb::head) return 0;  // a 405 before the API
  HttpRequest request{std::string(req.method_string()), std::string(req.target()), "fuzz"};
  HttpResponse response = daemon->api->handle(request);
  if (response.status < 200 || response.status > 599) __builtin_trap();
  return 0;
}
