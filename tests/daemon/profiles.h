#pragma once
// Small synthetic profiles for the daemon tests, shaped like emberd's own snapshots
// (samples/count and cpu/nanoseconds, labels pid, tid, comm, thread_comm).

#include <cstdint>
#include <string>
#include <vector>

#include "profile/builder.h"
#include "profile/profile.h"
#include "proto/pprof.h"

namespace ember::daemon::test {

inline constexpr int64_t kSecond = 1'000'000'000;  // in nanoseconds, as snapshot times are
inline constexpr int64_t kMinute = 60 * kSecond;

struct FakeSample {
  int32_t pid;
  std::string comm;
  std::vector<std::string> stack;  // root first
  int64_t count;
  std::string thread_comm = "";
  std::string service = "";  // the service_name label, when set
};

inline profile::Profile make_profile(const std::vector<FakeSample>& samples, int64_t time_ns = 0) {
  profile::ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  b.profile().period_type = profile::ValueType{b.intern("cpu"), b.intern("nanoseconds")};
  b.profile().period = 10'101'010;
  b.profile().time_nanos = time_ns;
  profile::Mapping m;
  m.filename = b.intern("/usr/bin/app");
  // As ember writes a mapping none of whose addresses could be named; what emberd serves must
  // still say "has functions" (see ApiTest.AllFormatsOfTheSameAnswer).
  m.has_functions = false;
  profile::MappingId mapping = b.add_mapping(m);
  uint64_t address = 0x1000;
  for (const FakeSample& s : samples) {
    std::vector<profile::LocationId> leaf_first;
    for (auto it = s.stack.rbegin(); it != s.stack.rend(); ++it) {
      profile::FunctionId f = b.add_function(*it, *it, "app.cpp");
      profile::Line line{f, 1, 0};
      leaf_first.push_back(b.add_location(mapping, address += 16, std::span(&line, 1)));
    }
    std::vector<profile::Label> labels = {
        {b.intern("pid"), {}, s.pid, {}},
        {b.intern("tid"), {}, s.pid, {}},
        {b.intern("comm"), b.intern(s.comm), 0, {}},
        {b.intern("thread_comm"), b.intern(s.thread_comm.empty() ? s.comm : s.thread_comm), 0, {}},
    };
    if (!s.service.empty()) labels.push_back({b.intern("service_name"), b.intern(s.service), 0, {}});
    int64_t values[] = {s.count, s.count * 10'101'010};
    b.add_sample(leaf_first, values, labels);
  }
  return std::move(b).finish();
}

inline std::string make_snapshot_bytes(const std::vector<FakeSample>& samples) {
  auto bytes = proto::encode(make_profile(samples), proto::Compression::kGzip);
  return bytes ? *bytes : std::string();
}

}  // namespace ember::daemon::test
