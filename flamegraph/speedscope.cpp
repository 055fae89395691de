#include "flamegraph/speedscope.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "profile/folded.h"
#include "profile/timeline.h"

namespace ember::flamegraph {

namespace {

using nlohmann::json;

// The shared frame table: one frame per (function, line), or per location without symbols.
class FrameTable {
 public:
  explicit FrameTable(const profile::Profile& p) : p_(p), by_location_(p.locations.size()) {}

  // The stack of `sample`, root first, as frame indices (memoized per location).
  json stack(const profile::Sample& sample) {
    json out = json::array();
    for (auto it = sample.locations.rbegin(); it != sample.locations.rend(); ++it) {
      if (it->value >= p_.locations.size()) continue;
      for (size_t f : location_frames(*it)) out.push_back(f);
    }
    return out;
  }

  json frames() const { return frames_; }

 private:
  const std::vector<size_t>& location_frames(profile::LocationId id) {
    auto& memo = by_location_[id.value];
    if (memo) return *memo;
    memo.emplace();
    const profile::Location& l = p_.location(id);
    if (l.lines.empty()) {
      json frame = {{"name", profile::unsymbolized_name(p_, l)}};
      memo->push_back(add(frame));
      return *memo;
    }
    // pprof lists the innermost inlined function first; root first means the reverse.
    for (auto it = l.lines.rbegin(); it != l.lines.rend(); ++it) {
      auto key = std::make_pair(it->function.value, it->line);
      auto found = by_line_.find(key);
      if (found != by_line_.end()) {
        memo->push_back(found->second);
        continue;
      }
      json frame = json::object();
      if (it->function.value < p_.functions.size()) {
        const profile::Function& f = p_.function(it->function);
        frame["name"] = std::string(p_.str(f.name).empty() ? p_.str(f.system_name) : p_.str(f.name));
        if (!p_.str(f.filename).empty()) frame["file"] = std::string(p_.str(f.filename));
      } else {
        frame["name"] = "[unknown]";
      }
      if (frame["name"].get_ref<const std::string&>().empty()) frame["name"] = "[unknown]";
      if (it->line > 0) frame["line"] = it->line;
      if (it->column > 0) frame["col"] = it->column;
      size_t index = add(frame);
      by_line_.emplace(key, index);
      memo->push_back(index);
    }
    return *memo;
  }

  size_t add(json frame) {
    frames_.push_back(std::move(frame));
    return frames_.size() - 1;
  }

  const profile::Profile& p_;
  json frames_ = json::array();
  std::vector<std::optional<std::vector<size_t>>> by_location_;
  std::map<std::pair<uint32_t, int64_t>, size_t> by_line_;
};

// speedscope's units: "none", "nanoseconds", "microseconds", ..., "bytes".
std::string unit_of(std::string_view unit) {
  for (std::string_view u : {"nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}) {
    if (unit == u) return std::string(u);
  }
  return "none";
}

// "worker (tid 1235)", "app (pid 1234)" or "all samples".
std::string thread_name(const profile::Profile& p, const profile::Sample& s) {
  std::string_view thread = p.str_label(s, profile::kLabelThreadComm);
  std::string_view comm = p.str_label(s, profile::kLabelComm);
  auto tid = p.num_label(s, profile::kLabelTid);
  auto pid = p.num_label(s, profile::kLabelPid);
  std::string_view name = thread.empty() ? comm : thread;
  if (tid) return fmt::format("{} (tid {})", name.empty() ? "thread" : name, *tid);
  if (pid) return fmt::format("{} (pid {})", name.empty() ? "process" : name, *pid);
  return name.empty() ? std::string("all samples") : std::string(name);
}

// The weight of one timed sample of `s`: its CPU time per sample when the profile has both
// (cpu-clock periods vary), else 1 sample.
struct TimedWeight {
  std::optional<size_t> samples, cpu;
  int64_t of(const profile::Sample& s) const {
    if (!samples || !cpu || *samples >= s.values.size() || *cpu >= s.values.size() ||
        s.values[*samples] <= 0) {
      return 1;
    }
    return std::max<int64_t>(1, s.values[*cpu] / s.values[*samples]);
  }
};

json timeline_profiles(const profile::Profile& p, FrameTable& frames) {
  TimedWeight weight;
  if (auto i = p.value_index("samples")) weight.samples = *i;
  if (auto i = p.value_index("cpu"); i && p.str(p.sample_types[*i].unit) == "nanoseconds") weight.cpu = *i;
  const bool in_ns = weight.samples && weight.cpu;
  std::unordered_map<uint32_t, json> stacks;  // per sample index
  json profiles = json::array();
  for (const profile::ThreadTimeline& thread : profile::timeline_by_thread(p)) {
    json samples = json::array();
    json weights = json::array();
    int64_t total = 0;
    for (const profile::TimedSample& t : thread.samples) {
      auto [it, inserted] = stacks.try_emplace(t.sample);
      if (inserted) it->second = frames.stack(p.samples[t.sample]);
      samples.push_back(it->second);
      int64_t w = weight.of(p.samples[t.sample]);
      weights.push_back(w);
      total += w;
    }
    // Start at the thread's first sample, relative to the recording's start.
    const int64_t start = std::max<int64_t>(0, thread.samples.front().time_ns - p.time_nanos);
    json profile = {{"type", "sampled"},
                    {"name", thread_name(p, p.samples[thread.first_sample])},
                    {"unit", in_ns ? "nanoseconds" : "none"},
                    {"startValue", in_ns ? start : 0},
                    {"endValue", in_ns ? start + total : total},
                    {"samples", std::move(samples)},
                    {"weights", std::move(weights)}};
    profiles.push_back(std::move(profile));
  }
  return profiles;
}

json aggregated_profiles(const profile::Profile& p, size_t value_index, FrameTable& frames) {
  // Threads in order of their first sample; samples without a tid/pid share one profile.
  std::vector<std::pair<std::string, std::vector<const profile::Sample*>>> groups;
  std::unordered_map<std::string, size_t> index;
  for (const profile::Sample& s : p.samples) {
    if (value_index >= s.values.size() || s.values[value_index] == 0) continue;
    std::string name = thread_name(p, s);
    auto [it, inserted] = index.try_emplace(name, groups.size());
    if (inserted) groups.emplace_back(name, std::vector<const profile::Sample*>{});
    groups[it->second].second.push_back(&s);
  }
  const std::string unit = value_index < p.sample_types.size()
                               ? unit_of(p.str(p.sample_types[value_index].unit))
                               : std::string("none");
  json profiles = json::array();
  for (auto& [name, samples] : groups) {
    json stacks = json::array();
    json weights = json::array();
    int64_t total = 0;
    for (const profile::Sample* s : samples) {
      stacks.push_back(frames.stack(*s));
      weights.push_back(s->values[value_index]);
      total += s->values[value_index];
    }
    profiles.push_back({{"type", "sampled"},
                        {"name", name},
                        {"unit", unit},
                        {"startValue", 0},
                        {"endValue", total},
                        {"samples", std::move(stacks)},
                        {"weights", std::move(weights)}});
  }
  return profiles;
}

}  // namespace

Result<std::string> render_speedscope(const profile::Profile& profile, const SpeedscopeOptions& options) {
  const size_t value_index = options.value_index.value_or(profile.default_value_index());
  if (!profile.samples.empty() && value_index >= profile.sample_types.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("sample type #{} does not exist (the profile has {})", value_index,
                                  profile.sample_types.size()));
  }
  FrameTable frames(profile);
  // A timeline shows the order the samples were taken in; a chosen --sample-type other than the
  // default asks for aggregated values instead.
  const bool timeline = !profile.timeline.empty() && !options.value_index;
  json profiles = timeline ? timeline_profiles(profile, frames)
                           : aggregated_profiles(profile, value_index, frames);
  json doc = {{"$schema", "https://www.speedscope.app/file-format-schema.json"},
              {"shared", {{"frames", frames.frames()}}},
              {"profiles", std::move(profiles)},
              {"name", options.name},
              {"activeProfileIndex", 0},
              {"exporter", "ember"}};
  std::string out = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  if (out.size() > options.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the speedscope file would be {} bytes, more than the limit of {} "
                                  "bytes (--max-output-bytes raises it)",
                                  out.size(), options.max_bytes));
  }
  return out;
}

}  // namespace ember::flamegraph
