#include "daemon/profile_filter.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "profile/timeline.h"

namespace ember::daemon {

std::string SampleFilter::describe() const {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : " ") + s; };
  for (int32_t p : pids) add(fmt::format("pid={}", p));
  if (comm) add("comm=~" + comm_pattern);
  for (const auto& [k, v] : labels) add(k + "=" + v);
  return out;
}

namespace {

// How often a long merge asks whether its query should stop (a check is one clock read).
constexpr size_t kSamplesPerCheck = 4096;

// Evaluates the filter once per distinct label value of one profile, not once per sample.
class Matcher {
 public:
  Matcher(const profile::Profile& p, const SampleFilter& f) : p_(p), f_(f) {
    pid_key_ = find_string(profile::kLabelPid);
    comm_key_ = find_string(profile::kLabelComm);
    for (const auto& [k, v] : f.labels) {
      LabelTest t;
      t.key = find_string(k);
      t.str = find_string(v);
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && ptr == v.data() + v.size()) t.num = n;
      tests_.push_back(t);
    }
  }

  bool keep(const profile::Sample& s) {
    if (!f_.pids.empty()) {
      bool any = false;
      for (const profile::Label& l : s.labels) {
        if (pid_key_ && l.key == *pid_key_ && std::find(f_.pids.begin(), f_.pids.end(), l.num) != f_.pids.end()) {
          any = true;
        }
      }
      if (!any) return false;
    }
    if (f_.comm) {
      bool any = false;
      for (const profile::Label& l : s.labels) {
        if (comm_key_ && l.key == *comm_key_ && comm_matches(l.str)) any = true;
      }
      if (!any) return false;
    }
    for (const LabelTest& t : tests_) {
      if (!t.key) return false;  // the profile has no such label at all
      bool any = false;
      for (const profile::Label& l : s.labels) {
        if (l.key != *t.key) continue;
        if (l.str.value != 0 ? (t.str && l.str == *t.str) : (t.num && l.num == *t.num)) any = true;
      }
      if (!any) return false;
    }
    return true;
  }

 private:
  struct LabelTest {
    std::optional<profile::StringId> key;
    std::optional<profile::StringId> str;
    std::optional<int64_t> num;
  };
  std::optional<profile::StringId> find_string(std::string_view s) {
    // Decoded profiles keep the file's string indices, and a string may appear twice: look
    // up every index once.
    if (index_.empty()) {
      for (uint32_t i = 0; i < p_.strings.size(); ++i) index_.emplace(p_.strings.get(profile::StringId{i}), i);
    }
    auto it = index_.find(s);
    if (it == index_.end()) return std::nullopt;
    return profile::StringId{it->second};
  }
  bool comm_matches(profile::StringId id) {
    auto it = comm_cache_.find(id.value);
    if (it != comm_cache_.end()) return it->second;
    std::string_view name = p_.str(id);
    bool m = f_.comm->search(name);
    comm_cache_.emplace(id.value, m);
    return m;
  }

  const profile::Profile& p_;
  const SampleFilter& f_;
  std::unordered_multimap<std::string_view, uint32_t> index_;
  std::optional<profile::StringId> pid_key_, comm_key_;
  std::vector<LabelTest> tests_;
  std::unordered_map<uint32_t, bool> comm_cache_;
};

}  // namespace

void set_default_sample_types(profile::ProfileBuilder& b) {
  if (!b.profile().sample_types.empty()) return;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().period_type = profile::ValueType{b.intern("cpu"), b.intern("nanoseconds")};
  b.profile().default_sample_type = b.intern("samples");
}

Result<void> merge_filtered(profile::ProfileBuilder& into, const profile::Profile& from,
                            const SampleFilter& filter, size_t max_samples, const QueryControl& control) {
  if (auto ok = control.check(); !ok) return ok;
  if (filter.empty()) {
    if (auto ok = into.merge(from); !ok) return ok;
    if (into.profile().samples.size() > max_samples) {
      return make_error(ErrorCode::kResourceExhausted, "the answer has more distinct samples than max_query_samples");
    }
    return {};
  }
  Matcher matcher(from, filter);
  return merge_selected(into, from, [&](const profile::Sample& s) { return matcher.keep(s); }, max_samples, control);
}

Result<void> merge_selected(profile::ProfileBuilder& into, const profile::Profile& from,
                            const std::function<bool(const profile::Sample&)>& keep, size_t max_samples,
                            const QueryControl& control) {
  if (auto ok = control.check(); !ok) return ok;
  // Same checks and header handling as ProfileBuilder::merge, by merging an empty profile
  // with the same header first.
  profile::Profile header;
  auto copy = [&](profile::StringId id) { return header.strings.intern(from.str(id)); };
  for (const profile::ValueType& t : from.sample_types) header.sample_types.push_back({copy(t.type), copy(t.unit)});
  header.period_type = {copy(from.period_type.type), copy(from.period_type.unit)};
  header.period = from.period;
  header.default_sample_type = copy(from.default_sample_type);
  header.time_nanos = from.time_nanos;
  header.duration_nanos = from.duration_nanos;
  if (auto ok = into.merge(header); !ok) return ok;

  std::vector<std::optional<profile::MappingId>> mappings(from.mappings.size());
  std::vector<std::optional<profile::FunctionId>> functions(from.functions.size());
  std::vector<std::optional<profile::LocationId>> locations(from.locations.size());
  auto mapping = [&](profile::MappingId id) -> profile::MappingId {
    if (!id.valid() || id.value >= mappings.size()) return {};
    if (!mappings[id.value]) {
      profile::Mapping m = from.mappings[id.value];
      m.filename = into.intern(from.str(m.filename));
      m.build_id = into.intern(from.str(m.build_id));
      mappings[id.value] = into.add_mapping(m);
    }
    return *mappings[id.value];
  };
  auto function = [&](profile::FunctionId id) -> profile::FunctionId {
    if (!id.valid() || id.value >= functions.size()) return {};
    if (!functions[id.value]) {
      const profile::Function& f = from.functions[id.value];
      functions[id.value] = into.add_function(from.str(f.name), from.str(f.system_name), from.str(f.filename),
                                              f.start_line);
    }
    return *functions[id.value];
  };
  std::vector<profile::Line> lines;
  auto location = [&](profile::LocationId id) -> profile::LocationId {
    if (!locations[id.value]) {
      const profile::Location& l = from.locations[id.value];
      lines.clear();
      for (const profile::Line& line : l.lines) lines.push_back(profile::Line{function(line.function), line.line, line.column});
      locations[id.value] = into.add_location(mapping(l.mapping), l.address, lines);
    }
    return *locations[id.value];
  };
  std::vector<profile::LocationId> stack;
  std::vector<profile::Label> labels;
  size_t examined = 0;
  // Where each sample of `from` went, so that its time order (profile/timeline.h) follows it.
  std::vector<uint32_t> sample_map;
  if (!from.timeline.empty()) sample_map.assign(from.samples.size(), profile::kNotKept);
  for (const profile::Sample& s : from.samples) {
    if (++examined % kSamplesPerCheck == 0) {
      if (auto ok = control.check(); !ok) return ok;
    }
    if (!keep(s)) continue;
    stack.clear();
    for (profile::LocationId id : s.locations) {
      if (id.value < from.locations.size()) stack.push_back(location(id));
    }
    labels.clear();
    for (const profile::Label& l : s.labels) {
      labels.push_back(profile::Label{into.intern(from.str(l.key)), into.intern(from.str(l.str)), l.num,
                                      into.intern(from.str(l.num_unit))});
    }
    const uint32_t index = into.add_sample(stack, s.values, labels);
    if (!sample_map.empty()) sample_map[examined - 1] = index;
    if (into.profile().samples.size() > max_samples) {
      return make_error(ErrorCode::kResourceExhausted, "the answer has more distinct samples than max_query_samples");
    }
  }
  profile::append_timeline(into.profile().timeline, from.timeline, sample_map);
  return {};
}

size_t estimate_bytes(const profile::Profile& p) {
  size_t bytes = sizeof(profile::Profile);
  for (const std::string& s : p.strings.strings()) bytes += s.capacity() + sizeof(std::string) + 48;
  bytes += p.mappings.capacity() * sizeof(profile::Mapping);
  bytes += p.functions.capacity() * sizeof(profile::Function);
  for (const profile::Location& l : p.locations) bytes += sizeof(l) + l.lines.capacity() * sizeof(profile::Line);
  for (const profile::Sample& s : p.samples) {
    bytes += sizeof(s) + s.locations.capacity() * sizeof(profile::LocationId) +
             s.values.capacity() * sizeof(int64_t) + s.labels.capacity() * sizeof(profile::Label);
  }
  return bytes;
}

}  // namespace ember::daemon
