#include <gtest/gtest.h>

#include "daemon/profile_filter.h"
#include "daemon/target_filter.h"
#include "profile/folded.h"
#include "profiles.h"

namespace ember::daemon {
namespace {

using test::make_profile;

profile::Profile sample_profile() {
  return make_profile({{10, "nginx", {"main", "serve", "parse"}, 5, "worker"},
                       {10, "nginx", {"main", "serve", "send"}, 3, "worker"},
                       {20, "postgres", {"main", "query"}, 7},
                       {30, "nginx-helper", {"main", "helper"}, 2}});
}

int64_t total(const profile::Profile& p) { return p.total(0); }

profile::Profile merged(const std::vector<profile::Profile>& parts, const SampleFilter& f) {
  profile::ProfileBuilder b;
  for (const auto& p : parts) EXPECT_TRUE(merge_filtered(b, p, f, 1'000'000));
  set_default_sample_types(b);
  return std::move(b).finish();
}

TEST(ProfileFilter, KeepsOnlyMatchingSamplesAndWhatTheyUse) {
  profile::Profile p = sample_profile();
  SampleFilter by_pid;
  by_pid.pids = {20};
  profile::Profile q = merged({p}, by_pid);
  EXPECT_EQ(total(q), 7);
  EXPECT_EQ(q.samples.size(), 1u);
  EXPECT_EQ(q.functions.size(), 2u);  // main, query: nothing the kept samples do not use
  EXPECT_EQ(q.locations.size(), 2u);

  SampleFilter by_comm;
  by_comm.comm = *compile_regex("^nginx$", true);
  EXPECT_EQ(total(merged({p}, by_comm)), 8);
  by_comm.comm = *compile_regex("nginx", true);  // searched, not anchored
  EXPECT_EQ(total(merged({p}, by_comm)), 10);

  SampleFilter by_label;
  by_label.labels = {{"thread_comm", "worker"}};
  EXPECT_EQ(total(merged({p}, by_label)), 8);
  by_label.labels = {{"pid", "30"}};  // numeric labels compare as numbers
  EXPECT_EQ(total(merged({p}, by_label)), 2);
  by_label.labels = {{"no_such_label", "x"}};
  EXPECT_EQ(total(merged({p}, by_label)), 0);

  SampleFilter both;  // conditions of different kinds must all hold
  both.pids = {10, 20};
  both.comm = *compile_regex("post", true);
  EXPECT_EQ(total(merged({p}, both)), 7);
}

TEST(ProfileFilter, MergesSnapshotsAddingEqualStacks) {
  profile::Profile a = sample_profile();
  profile::Profile b = sample_profile();
  SampleFilter none;
  profile::Profile m = merged({a, b}, none);
  EXPECT_EQ(total(m), 34);
  EXPECT_EQ(m.samples.size(), 4u);
  SampleFilter nginx;
  nginx.pids = {10};
  profile::Profile n = merged({a, b}, nginx);
  EXPECT_EQ(total(n), 16);
  auto folded = profile::format_folded(profile::fold(n));
  EXPECT_NE(folded.find("nginx;main;serve;parse 10"), std::string::npos) << folded;
}

TEST(ProfileFilter, StopsAtTheSampleBound) {
  profile::ProfileBuilder b;
  SampleFilter none;
  auto r = merge_filtered(b, sample_profile(), none, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
}

TEST(ProfileFilter, AnEmptyAnswerIsStillAValidProfile) {
  profile::ProfileBuilder b;
  set_default_sample_types(b);
  profile::Profile p = std::move(b).finish();
  auto bytes = proto::encode(p);
  ASSERT_TRUE(bytes);
  auto back = proto::decode(*bytes, "empty");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sample_types.size(), 2u);
}

TEST(TargetFilter, CgroupSelectorsMatchTheSubtreeOnly) {
  EXPECT_TRUE(cgroup_selected("/system.slice/nginx.service", "/system.slice/nginx.service"));
  EXPECT_TRUE(cgroup_selected("/system.slice/nginx.service", "/system.slice"));
  EXPECT_TRUE(cgroup_selected("/system.slice/nginx.service", "/system.slice/"));
  EXPECT_FALSE(cgroup_selected("/system.slice2/x.service", "/system.slice"));
  EXPECT_FALSE(cgroup_selected("/user.slice", "/system.slice"));
  EXPECT_TRUE(cgroup_selected("/user.slice", "/"));
  EXPECT_FALSE(cgroup_selected("", "/"));
}

TEST(TargetFilter, ProcessFilterUnitesTheSelectors) {
  TargetConfig t;
  t.all = false;
  t.pids = {42};
  t.names = {"^nginx$", "/usr/sbin/postgres"};
  t.cgroups = {"/system.slice/redis.service"};
  auto filter = make_process_filter(t);
  ASSERT_TRUE(filter);
  auto info = [](int32_t pid, std::string_view comm, std::string_view exe, std::string cgroup) {
    collector::ProcessInfo p;
    p.pid = pid;
    p.comm = comm;
    p.exe = exe;
    p.cgroup_cache = std::move(cgroup);
    return p;
  };
  EXPECT_TRUE((*filter)(info(42, "anything", "", "/")));
  EXPECT_TRUE((*filter)(info(1, "nginx", "/usr/sbin/nginx", "/")));
  EXPECT_FALSE((*filter)(info(1, "nginx-helper", "/opt/helper", "/")));
  EXPECT_TRUE((*filter)(info(1, "postmaster", "/usr/sbin/postgres", "/")));
  EXPECT_TRUE((*filter)(info(1, "redis-server", "/usr/bin/redis-server", "/system.slice/redis.service")));
  EXPECT_FALSE((*filter)(info(1, "bash", "/bin/bash", "/user.slice/user-1000.slice")));
  TargetConfig all;
  auto none = make_process_filter(all);
  ASSERT_TRUE(none);
  EXPECT_FALSE(static_cast<bool>(*none));  // no filter at all: nothing to evaluate per process
}

TEST(TargetFilter, QueryRegexesAreBounded) {
  EXPECT_TRUE(compile_regex("^nginx$", true));
  EXPECT_TRUE(compile_regex(common::regex_escape("a{b}.c"), true));
  // RE2 caps repetition counts (1000, nested ones multiplied) instead of expanding them.
  auto braces = compile_regex("(a{1000}){1000}", true);
  ASSERT_FALSE(braces);
  EXPECT_NE(braces.error().message().find("repetition"), std::string::npos) << braces.error().message();
  EXPECT_FALSE(compile_regex(std::string(300, 'a'), true));
  EXPECT_TRUE(compile_regex(std::string(300, 'a'), false));  // the configuration may be longer
  auto unclosed = compile_regex("(unclosed", true);
  ASSERT_FALSE(unclosed);
  EXPECT_EQ(unclosed.error().message(), "invalid regex '(unclosed': missing ): (unclosed");
  EXPECT_TRUE(compile_regex("a{2}", true));
  auto escaped = compile_regex("^" + common::regex_escape("we.ird(1)") + "$", true);
  ASSERT_TRUE(escaped);
  EXPECT_TRUE(escaped->search("we.ird(1)"));
  EXPECT_FALSE(escaped->search("weXird(1)"));
}

TEST(TargetFilter, BackreferencesAndLookaroundAreRefusedWithTheReason) {
  auto backref = compile_regex("(a)\\1", true);
  ASSERT_FALSE(backref);
  EXPECT_NE(backref.error().message().find("invalid regex '(a)\\1'"), std::string::npos) << backref.error().message();
  auto lookahead = compile_regex("a(?=b)", false);
  ASSERT_FALSE(lookahead);
  EXPECT_NE(lookahead.error().message().find("a(?=b)"), std::string::npos);
}

}  // namespace
}  // namespace ember::daemon
