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
  EXPECT_NE(s.last_error.find("connect"), std::string::npos) << s.last_error;
  (*client)->stop(Duration(0));
  EXPECT_EQ((*client)->stats().queued, 0u);
}

}  // namespace
}  // namespace ember::daemon
