#include "daemon/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "test_support.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;

TEST(Config, EmbeddedDefaultHasTheDocumentedValues) {
  auto c = load_default_config();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE(c->targets.all);
  EXPECT_EQ(c->profiling.frequency_hz, 99u);
  EXPECT_EQ(c->profiling.call_graph, collector::CallGraphMode::kDwarf);
  EXPECT_FALSE(c->profiling.off_cpu);  // until an operator asks: see docs/benchmarks.md for its cost
  EXPECT_EQ(c->profiling.off_cpu_threshold_us, 100u);
  EXPECT_EQ(c->storage.interval, 60s);
  EXPECT_EQ(c->storage.max_age, std::chrono::hours(24 * 7));
  EXPECT_EQ(c->storage.max_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c->http.listen, "127.0.0.1:7070");
  EXPECT_FALSE(c->http.allow_remote);
  // Much smaller than the CLI's 256 MiB: emberd runs all the time.
  EXPECT_EQ(c->symbolizer.max_cache_bytes, uint64_t{8} << 20);
  EXPECT_FALSE(c->push.enabled());
}

TEST(Config, EffectiveConfigParsesBackToTheSame) {
  auto c = parse_config(R"(
[targets]
names = ["^nginx$", "postgres"]
cgroups = ["/system.slice/nginx.service"]
pids = [1, 2]
[profiling]
off_cpu = true
off_cpu_threshold_us = 250
[storage]
interval = "5m"
max_bytes = "10MiB"
[push]
url = "http://pyroscope:4040"
labels = { env = "prod" }
)",
                        "a.toml");
  ASSERT_TRUE(c) << c.error().message();
  Overrides none;
  ASSERT_TRUE(finish_config(*c, none));
  std::string text = format_config(*c);
  EXPECT_NE(text.find("\n[storage]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ninterval = \"5m\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nlabels = { env = \"prod\" }\n"), std::string::npos) << text;
  auto again = parse_config(text, "effective");
  ASSERT_TRUE(again) << again.error().message() << "\n" << text;
  // The same apart from the first line, which names the source.
  std::string second = format_config(*again);
  EXPECT_EQ(second.substr(second.find('\n')), text.substr(text.find('\n')));
  EXPECT_FALSE(again->targets.all);
  EXPECT_EQ(again->targets.names.size(), 2u);
  EXPECT_EQ(again->storage.interval, 5min);
  EXPECT_TRUE(again->profiling.off_cpu);
  EXPECT_EQ(again->profiling.off_cpu_threshold_us, 250u);
  EXPECT_EQ(again->push.labels.at("env"), "prod");
}

TEST(Config, ErrorsNameTheFileLineAndKey) {
  auto c = parse_config("[storage]\ninterval = \"soon\"\n", "/etc/ember/emberd.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("/etc/ember/emberd.toml:2:"), std::string::npos) << c.error().message();
  EXPECT_NE(c.error().message().find("storage.interval"), std::string::npos);

  auto typo = parse_config("[storage]\nintervall = \"60s\"\n", "x.toml");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message().find("unknown key"), std::string::npos);
  EXPECT_NE(typo.error().message().find("intervall"), std::string::npos);

  auto section = parse_config("[storge]\n", "x.toml");
  ASSERT_FALSE(section);
  EXPECT_NE(section.error().message().find("storge"), std::string::npos);

  auto type = parse_config("[profiling]\nfrequency = \"fast\"\n", "x.toml");
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message().find("profiling.frequency"), std::string::npos);

  auto range = parse_config("[profiling]\nfrequency = 0\n", "x.toml");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message().find("out of range"), std::string::npos);
}

TEST(Config, TruncatedOrHostileFilesAreOneLineErrors) {
  test::TempDir dir;
  const std::string full = std::string(default_config_text());
  // Every prefix of the default file either parses or fails with one line naming the file.
  for (size_t cut = 0; cut < full.size(); cut += 97) {
    std::string path = dir / "cut.toml";
    test::write_text(path, full.substr(0, cut));
    auto c = load_config_file(path);
    if (!c) {
      EXPECT_EQ(c.error().message().find('\n'), std::string::npos) << c.error().message();
      EXPECT_NE(c.error().message().find(path), std::string::npos) << c.error().message();
    }
  }
  test::write_text(dir / "binary.toml", std::string("\x7f" "ELF\0\0\0\x01", 8));
  auto bin = load_config_file(dir / "binary.toml");
  ASSERT_FALSE(bin);
  EXPECT_NE(bin.error().message().find("binary.toml"), std::string::npos);

  test::write_text(dir / "nested.toml", "a = " + std::string(5000, '[') + std::string(5000, ']') + "\n");
  auto nested = load_config_file(dir / "nested.toml");
  ASSERT_FALSE(nested);
  EXPECT_NE(nested.error().message().find("nested.toml"), std::string::npos);

  test::write_text(dir / "huge.toml", std::string(2 << 20, '#'));
  auto huge = load_config_file(dir / "huge.toml");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("huge.toml"), std::string::npos);

  auto missing = load_config_file(dir / "missing.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("missing.toml"), std::string::npos);
}

TEST(Config, TargetsAllCannotBeCombinedWithSelectors) {
  EXPECT_FALSE(parse_config("[targets]\nall = true\nnames = [\"x\"]\n", "x.toml"));
  EXPECT_FALSE(parse_config("[targets]\nall = false\n", "x.toml"));
  auto bad_regex = parse_config("[targets]\nnames = [\"(unclosed\"]\n", "x.toml");
  ASSERT_FALSE(bad_regex);
  EXPECT_NE(bad_regex.error().message().find("targets.names"), std::string::npos);
  EXPECT_FALSE(parse_config("[targets]\ncgroups = [\"system.slice\"]\n", "x.toml"));
  auto pids = parse_config("[targets]\npids = [42]\n", "x.toml");
  ASSERT_TRUE(pids);
  EXPECT_FALSE(pids->targets.all);
}

TEST(Config, NonLoopbackNeedsAllowRemoteAndAToken) {
  auto c = parse_config("[http]\nlisten = \"0.0.0.0:7070\"\n", "x.toml");
  ASSERT_TRUE(c);
  auto refused = finish_config(*c, {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("allow_remote"), std::string::npos);

  c = parse_config("[http]\nlisten = \"0.0.0.0:7070\"\nallow_remote = true\n", "x.toml");
  ASSERT_TRUE(c);
  auto no_token = finish_config(*c, {});
  ASSERT_FALSE(no_token);
  EXPECT_NE(no_token.error().message().find("token_file"), std::string::npos);

  c = parse_config("[http]\nlisten = \"0.0.0.0:7070\"\nallow_remote = true\ntoken_file = \"/t\"\n", "x.toml");
  ASSERT_TRUE(c);
  EXPECT_TRUE(finish_config(*c, {}));

  // The command line may not sneak past it either.
  c = load_default_config();
  Overrides o;
  o.listen = "[::]:0";
  EXPECT_FALSE(finish_config(*c, o));
}

TEST(Config, OverridesAndTheDataDirectoryDefault) {
  auto c = load_default_config();
  ASSERT_TRUE(c);
  ::setenv("STATE_DIRECTORY", "/var/lib/ember:/var/lib/other", 1);
  Overrides o;
  o.listen = "127.0.0.1:0";
  o.interval = 2s;
  o.frequency_hz = 49;
  ASSERT_TRUE(finish_config(*c, o));
  EXPECT_EQ(c->storage.directory, "/var/lib/ember");
  EXPECT_EQ(c->http.listen, "127.0.0.1:0");
  EXPECT_EQ(c->storage.interval, 2s);
  EXPECT_EQ(c->profiling.frequency_hz, 49u);
  ::unsetenv("STATE_DIRECTORY");
  auto d = load_default_config();
  ASSERT_TRUE(finish_config(*d, {}));
  EXPECT_EQ(d->storage.directory, "./var/ember");
  Overrides dir;
  dir.data_dir = "/srv/ember";
  ASSERT_TRUE(finish_config(*d, dir));
  EXPECT_EQ(d->storage.directory, "/srv/ember");
}

TEST(ListenAddress, ParsesTheForms) {
  auto v4 = parse_listen_address("127.0.0.1:7070");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->loopback);
  EXPECT_EQ(v4->port, 7070);
  auto v6 = parse_listen_address("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->loopback);
  EXPECT_EQ(v6->host, "::1");
  auto local = parse_listen_address("localhost:80");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->host, "127.0.0.1");
  auto unix_socket = parse_listen_address("unix:/run/ember/emberd.sock");
  ASSERT_TRUE(unix_socket);
  EXPECT_TRUE(unix_socket->unix_socket);
  auto any = parse_listen_address("0.0.0.0:7070");
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->loopback);
  for (const char* bad : {"7070", "127.0.0.1", "127.0.0.1:70000", "::1:7070", "example.com:80", "unix:relative",
                          "127.0.0.1:-1"}) {
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  }
}

TEST(HostHeader, ParsesBracketedIpv6RegNamesAndPorts) {
  auto v6 = parse_host_header("[::1]:7070");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->has_port);
  EXPECT_EQ(v6->port, 7070);
  EXPECT_TRUE(is_loopback_host(*v6));
  auto name = parse_host_header("LocalHost");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
  EXPECT_FALSE(name->has_port);
  EXPECT_TRUE(is_loopback_host(*name));
  EXPECT_TRUE(is_loopback_host(*parse_host_header("127.9.9.9:80")));
  EXPECT_FALSE(is_loopback_host(*parse_host_header("127.0.0.1.evil.com")));
  EXPECT_FALSE(is_loopback_host(*parse_host_header("localhost.evil.com")));
  EXPECT_FALSE(is_loopback_host(*parse_host_header("[::ffff:8.8.8.8]")));
  auto evil = parse_host_header("[::1].evil.com");
  ASSERT_FALSE(evil);
  EXPECT_EQ(evil.error().message(), "Host '[::1].evil.com': only ':PORT' may follow the host");
  for (const char* bad : {"", "[::1", "[nope]", "a b", "a:b", "a:70000", "[::1]:", "a/b", "a@b"}) {
    EXPECT_FALSE(parse_host_header(bad)) << bad;
  }
}

TEST(PushUrl, AcceptsHttpAndHttps) {
  auto u = parse_push_url("http://pyroscope.example:4040/prefix/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "pyroscope.example");
  EXPECT_EQ(u->port, 4040);
  EXPECT_EQ(u->prefix, "/prefix");
  EXPECT_EQ(parse_push_url("http://pyro")->port, 80);
  EXPECT_FALSE(parse_push_url("http://pyro")->tls);
  auto s = parse_push_url("https://profiles-prod-001.grafana.net");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->tls);
  EXPECT_EQ(s->host, "profiles-prod-001.grafana.net");
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(parse_push_url("https://pyro:4040")->port, 4040);
  EXPECT_FALSE(parse_push_url("http://user:pw@pyro:4040"));
  EXPECT_FALSE(parse_push_url("https://user:pw@pyro:4040"));
  EXPECT_FALSE(parse_push_url("http://pyro:4040/a?b"));
  EXPECT_FALSE(parse_push_url("ftp://pyro"));
  EXPECT_FALSE(parse_config("[push]\nurl = \"http://p\"\nlabels = { host = \"x\" }\n", "x.toml"));
  EXPECT_FALSE(parse_config("[push]\nurl = \"http://p\"\nlabels = { env = \"a,b\" }\n", "x.toml"));
}

TEST(PushConfig, SeriesPerServiceOrPerHost) {
  auto c = parse_config("[push]\nurl = \"http://p:4040\"\n", "d.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->push.series, "service");
  EXPECT_EQ(c->push.max_series, 100u);
  c = parse_config("[push]\nseries = \"host\"\nmax_series = 5\n", "d.toml");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->push.series, "host");
  EXPECT_EQ(c->push.max_series, 5u);
  auto error_of = [](std::string_view push) {
    auto c = parse_config(fmt::format("[push]\n{}", push), "e.toml");
    return c ? std::string("accepted") : c.error().message();
  };
  EXPECT_EQ(error_of("series = \"pod\"\n"), "e.toml: push.series: 'pod' is neither \"service\" nor \"host\"");
  EXPECT_NE(error_of("labels = { service_name = \"x\" }\n").find("'service_name' = 'x' is not a valid label"),
            std::string::npos);
}

TEST(PushConfig, AuthenticationAndTlsKeysGoTogether) {
  auto error_of = [](std::string_view push) {
    auto c = parse_config(fmt::format("[push]\n{}", push), "e.toml");
    return c ? std::string("accepted") : c.error().message();
  };
  EXPECT_EQ(error_of("url = \"https://p\"\nbasic_auth_user = \"1\"\n"),
            "e.toml: push.basic_auth_user: basic_auth_user and basic_auth_password_file go together");
  EXPECT_EQ(error_of("url = \"https://p\"\nbasic_auth_user = \"1\"\nbasic_auth_password_file = \"/p\"\n"
                     "token_file = \"/t\"\n"),
            "e.toml: push.token_file: set either token_file (bearer) or basic_auth_*, not both");
  EXPECT_EQ(error_of("url = \"https://p\"\nbasic_auth_user = \"a:b\"\nbasic_auth_password_file = \"/p\"\n"),
            "e.toml: push.basic_auth_user: may not contain ':' or control characters");
  EXPECT_EQ(error_of("url = \"https://p\"\ncert_file = \"/c.pem\"\n"),
            "e.toml: push.cert_file: cert_file and key_file go together");
  EXPECT_EQ(error_of("url = \"http://p\"\nca_file = \"/ca.pem\"\n"), "e.toml: push.ca_file: needs an https:// push.url");
  auto ok = parse_config(
      "[push]\nurl = \"https://p\"\nbasic_auth_user = \"123\"\nbasic_auth_password_file = \"/run/pw\"\n"
      "tenant_id = \"t\"\nca_file = \"/ca.pem\"\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n",
      "ok.toml");
  ASSERT_TRUE(ok) << ok.error().message();
  auto again = parse_config(format_config(*ok), "again");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->push == ok->push);
}

TEST(SymbolizerConfig, DebuginfodKeys) {
  auto bad = parse_config("[symbolizer]\ndebuginfod_urls = [\"ftp://d\"]\n", "d.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "d.toml: symbolizer.debuginfod_urls: 'ftp://d' is not an http:// or https:// URL");
  auto ok = parse_config(
      "[symbolizer]\ndebuginfod = false\ndebuginfod_urls = [\"https://debuginfod.debian.net\"]\n"
      "debuginfod_cache_dir = \"/var/cache/d\"\ndebuginfod_timeout = \"5s\"\ndebuginfod_max_cache_bytes = \"2GiB\"\n",
      "ok.toml");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_FALSE(ok->symbolizer.debuginfod);
  EXPECT_EQ(ok->symbolizer.debuginfod_max_cache_bytes, uint64_t{2} << 30);
  auto again = parse_config(format_config(*ok), "again");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->symbolizer == ok->symbolizer);
}

}  // namespace
}  // namespace ember::daemon
