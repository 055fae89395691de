// The push client against a loopback receiver that decodes what arrives, as Pyroscope would.

#include "daemon/push_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "profiles.h"
#include "push_support.h"
#include "receiver.h"
#include "proto/pprof.h"
#include "test_support.h"

namespace ember::daemon {
namespace {

using test::push_snapshot;
using test::Receiver;
using test::wait_for;
using test::Received;

using namespace std::chrono_literals;

PushConfig config_for(uint16_t port) {
  PushConfig c;
  c.url = "http://127.0.0.1:" + std::to_string(port) + "/pyro";
  c.app_name = "emberd";
  c.labels = {{"env", "prod"}};
  c.timeout = 2s;
  c.initial_backoff = 10ms;
  c.max_backoff = 50ms;
  c.max_attempts = 5;
  return c;
}

TEST(Push, DeliversSnapshotsInPyroscopesIngestFormat) {
  Receiver receiver({200});
  test::TempDir dir;
  test::write_text(dir / "token", "push-token-0123456789\n");
  ::chmod((dir / "token").c_str(), 0600);
  PushConfig config = config_for(receiver.port());
  config.token_file = dir / "token";
  config.tenant_id = "team-a";
  auto client = PushClient::start(config, "web-1");
  ASSERT_TRUE(client) << client.error().message();
  const UnixNanos start = 1'700'000'000'000'000'000, end = start + 60'000'000'000;
  (*client)->enqueue(push_snapshot(), start, end);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; }));
  auto got = receiver.received();
  ASSERT_EQ(got.size(), 1u);
  const Received& r = got[0];
  EXPECT_EQ(r.target,
            "/pyro/ingest?name=emberd%7Bhost%3Dweb-1%2Cenv%3Dprod%7D&from=1700000000&until=1700000060"
            "&format=pprof&spyName=ember&sampleRate=99");
  EXPECT_TRUE(r.headers.at("content-type").starts_with("multipart/form-data; boundary="));
  EXPECT_EQ(r.headers.at("authorization"), "Bearer push-token-0123456789");
  EXPECT_EQ(r.headers.at("x-scope-orgid"), "team-a");
  // What arrives is the pprof file itself, readable as such.
  auto profile = proto::decode(r.profile, "received");
  ASSERT_TRUE(profile) << profile.error().message();
  EXPECT_EQ(profile->total(0), 12);
  EXPECT_NE(r.sample_type_config.find("\"samples\""), std::string::npos);
  EXPECT_FALSE((*client)->stats().failing);
  EXPECT_EQ(push_series_name(config, "web-1"), "emberd{host=web-1,env=prod}");
  EXPECT_EQ(push_series_name(config, "web-1", "nginx"), "nginx{service_name=nginx,host=web-1,env=prod}");
}

// A host's snapshot: nginx's two processes are in nginx.service, postgres and bash in none.
profile::Profile services_snapshot() {
  return test::make_profile({{10, "nginx", {"main", "serve"}, 5, "", "nginx"},
                             {11, "nginx: worker", {"main", "work"}, 3, "", "nginx"},
                             {20, "postgres", {"main", "query"}, 7},
                             {30, "bash", {"main", "read"}, 1},
                             {41, ":41", {"gone"}, 1},
                             {42, ":42", {"gone"}, 1}});
}

// service -> (total samples, the leaf functions)
std::map<std::string, std::pair<int64_t, std::set<std::string>>> contents(const std::vector<PushPart>& parts) {
  std::map<std::string, std::pair<int64_t, std::set<std::string>>> out;
  for (const PushPart& part : parts) {
    auto p = proto::decode(*part.pprof, part.service);
    EXPECT_TRUE(p) << p.error().message();
    if (!p) continue;
    auto& [total, leaves] = out[part.service];
    total = p->total(0);
    for (const profile::Sample& s : p->samples) {
      const profile::Location& leaf = p->locations[s.locations.front().value];
      leaves.insert(std::string(p->str(p->functions[leaf.lines.back().function.value].name)));
    }
  }
  return out;
}

TEST(PushSeries, OneSeriesPerServiceHoldingOnlyItsSamples) {
  PushConfig config = config_for(1);
  auto parts = push_parts(services_snapshot(), nullptr, config);
  ASSERT_TRUE(parts) << parts.error().message();
  using Contents = std::map<std::string, std::pair<int64_t, std::set<std::string>>>;
  // Processes gone before they were seen (":PID") are one series, not one per pid.
  EXPECT_EQ(contents(*parts), (Contents{{"nginx", {8, {"serve", "work"}}},
                                        {"postgres", {7, {"query"}}},
                                        {"bash", {1, {"read"}}},
                                        {"unknown", {2, {"gone"}}}}));
  // Busiest first.
  ASSERT_EQ(parts->size(), 4u);
  EXPECT_EQ((*parts)[0].service, "nginx");

  // Past max_series, the quietest services share one series.
  config.max_series = 1;
  parts = push_parts(services_snapshot(), nullptr, config);
  ASSERT_TRUE(parts);
  EXPECT_EQ(contents(*parts), (Contents{{"nginx", {8, {"serve", "work"}}}, {"other", {10, {"query", "read", "gone"}}}}));

  // series = "host": the snapshot as it is, one series.
  config.series = "host";
  auto whole = std::make_shared<const std::string>("bytes");
  parts = push_parts(services_snapshot(), whole, config);
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].service, "");
  EXPECT_EQ((*parts)[0].pprof, whole);
}

TEST(PushSeries, NamesAreMadeSafeForSeriesNames) {
  EXPECT_EQ(series_safe("kworker/0:1"), "kworker_0:1");
  EXPECT_EQ(series_safe("a b{c}=d,\"e\""), "a_b_c__d__e_");
  EXPECT_EQ(series_safe(""), "unknown");
  EXPECT_EQ(series_safe(std::string(100, 'x')), std::string(64, 'x'));
}

TEST(Push, EachServiceArrivesAsItsOwnSeries) {
  Receiver receiver({200});
  PushConfig config = config_for(receiver.port());
  auto client = PushClient::start(config, "web-1");
  ASSERT_TRUE(client) << client.error().message();
  auto parts = push_parts(services_snapshot(), nullptr, config);
  ASSERT_TRUE(parts);
  (*client)->enqueue(std::move(*parts), 0, 60'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 4; }));
  std::set<std::string> names;
  for (const Received& r : receiver.received()) {
    names.insert(r.target.substr(0, r.target.find('&')));
    auto p = proto::decode(r.profile, "received");
    ASSERT_TRUE(p) << p.error().message();
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "/pyro/ingest?name=nginx%7Bservice_name%3Dnginx%2Chost%3Dweb-1%2Cenv%3Dprod%7D",
                       "/pyro/ingest?name=postgres%7Bservice_name%3Dpostgres%2Chost%3Dweb-1%2Cenv%3Dprod%7D",
                       "/pyro/ingest?name=bash%7Bservice_name%3Dbash%2Chost%3Dweb-1%2Cenv%3Dprod%7D",
                       "/pyro/ingest?name=unknown%7Bservice_name%3Dunknown%2Chost%3Dweb-1%2Cenv%3Dprod%7D"}));
}

TEST(Push, RetriesWithBackoffUntilTheServerAccepts) {
  Receiver receiver({503, 500, 200});
  auto client = PushClient::start(config_for(receiver.port()), "h");
  ASSERT_TRUE(client);
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; }));
  auto s = (*client)->stats();
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(receiver.requests(), 3);
  for (const Received& r : receiver.received()) EXPECT_TRUE(proto::decode(r.profile, "retry").has_value());
}

TEST(Push, ARefusedSnapshotIsNotRetried) {
  Receiver receiver({400, 200});
  auto client = PushClient::start(config_for(receiver.port()), "h");
  ASSERT_TRUE(client);
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().dropped == 1; }));
  EXPECT_EQ(receiver.requests(), 1);
  EXPECT_NE((*client)->stats().last_error.find("HTTP 400"), std::string::npos);
  // The next one goes through.
  (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().sent == 1; }));
}

TEST(Push, AnUnreachableServerFailsWithABoundedQueue) {
  uint16_t closed_port;
  {
    Receiver gone({200});
    closed_port = gone.port();
  }
  PushConfig config = config_for(closed_port);
  config.max_queue = 2;
  config.max_attempts = 1000;
  config.initial_backoff = 200ms;
  config.max_backoff = 200ms;
  auto client = PushClient::start(config, "h");
  ASSERT_TRUE(client);
  for (int i = 0; i < 6; ++i) (*client)->enqueue(push_snapshot(), 0, 1'000'000'000);
  ASSERT_TRUE(wait_for([&] { return (*client)->stats().failing; }));
  auto s = (*client)->stats();
  EXPECT_LE(s.queued, 2u);
  EXPECT_GE(s.dropped, 4u);
  // The bound counts snapshots: one of three series is dropped with its snapshot, whole.
  const uint64_t dropped = s.dropped;
  for (int i = 0; i < 2; ++i) {
    auto parts = push_parts(services_snapshot(), nullptr, config);
    ASSERT_TRUE(parts);
    (*client)->enqueue(std::move(*parts), 0, 1'000'000'000);
  }
  s = (*client)->stats();
  EXPECT_LE(s.queued, 8u);
  EXPECT_GE(s.dropped, dropped + 2);
  EXPECT_NE(s.last_error.find("connect"), std::string::npos) << s.last_error;
  (*client)->stop(Duration(0));
  EXPECT_EQ((*client)->stats().queued, 0u);
}

}  // namespace
}  // namespace ember::daemon
