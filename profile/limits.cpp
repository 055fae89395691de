#include "profile/limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "common/checked.h"

namespace ember::profile {

namespace {

constexpr std::string_view kEllipsis = "…";

std::string_view plural(uint64_t n, std::string_view one, std::string_view many) {
  return n == 1 ? one : many;
}

// Frames a location stands for when folded with inlined functions: at least one.
uint64_t frames_of(const Location& location) { return std::max<size_t>(1, location.lines.size()); }

class Limiter {
 public:
  Limiter(Profile& profile, const InputLimits& limits) : p_(profile), limits_(limits) {}

  void shorten_strings() {
    for (uint32_t i = 0; i < p_.strings.size(); ++i) {
      std::string_view s = p_.strings.get(StringId{i});
      if (s.size() <= limits_.max_name_length) continue;
      ++report_.names_cut;
      report_.longest = std::max<uint64_t>(report_.longest, s.size());
      p_.strings.replace(StringId{i}, shorten_name(s, limits_.max_name_length));
    }
  }

  // A location whose inline chain alone is deeper than the limit: cut like a stack.
  void cut_inline_chains() {
    for (Location& location : p_.locations) {
      size_t depth = location.lines.size();
      if (depth <= limits_.max_stack_depth) continue;
      note_cut(depth);
      StackCut cut = cut_stack(depth, limits_.max_stack_depth);
      // lines are innermost first; root-first position j is lines[depth - 1 - j].
      std::vector<Line> kept;
      kept.reserve(limits_.max_stack_depth);
      for (size_t j = depth; j-- > cut.leaf_begin;) kept.push_back(location.lines[depth - 1 - j]);
      kept.push_back(Line{elided_function(), 0, 0});
      for (size_t j = cut.root_end; j-- > 0;) kept.push_back(location.lines[depth - 1 - j]);
      location.lines = std::move(kept);
    }
  }

  [[nodiscard]] Result<void> cut_stacks(std::string_view source) {
    uint64_t all_frames = 0;
    for (Sample& sample : p_.samples) {
      uint64_t depth = 0;
      for (LocationId id : sample.locations) depth = common::saturating_add(depth, frames_at(id));
      if (depth > limits_.max_stack_depth) {
        note_cut(depth);
        depth = cut_sample(sample, depth);
      }
      all_frames = common::saturating_add(all_frames, std::max<uint64_t>(depth, 1));
      if (all_frames > limits_.max_frames) {
        return make_error(ErrorCode::kResourceExhausted,
                          fmt::format("{}: more than {} frames in all stacks (the limit; "
                                      "--max-frames raises it)",
                                      source, limits_.max_frames));
      }
    }
    return {};
  }

  const LimitReport& report() const { return report_; }

 private:
  uint64_t frames_at(LocationId id) const {
    return id.valid() && id.value < p_.locations.size() ? frames_of(p_.locations[id.value]) : 1;
  }

  void note_cut(uint64_t depth) {
    ++report_.stacks_cut;
    report_.deepest = std::max(report_.deepest, depth);
  }

  FunctionId elided_function() {
    if (!elided_function_) {
      Function f;
      f.name = p_.strings.intern(kElidedFrames);
      f.system_name = f.name;
      elided_function_ = FunctionId{static_cast<uint32_t>(p_.functions.size())};
      p_.functions.push_back(f);
    }
    return *elided_function_;
  }

  LocationId elided_location() {
    if (!elided_location_) {
      Location location;
      location.lines.push_back(Line{elided_function(), 0, 0});
      elided_location_ = LocationId{static_cast<uint32_t>(p_.locations.size())};
      p_.locations.push_back(std::move(location));
    }
    return *elided_location_;
  }

  // Keeps whole locations from the root end and the leaf end within the cut's budgets; returns
  // the new depth in frames.
  uint64_t cut_sample(Sample& sample, uint64_t depth) {
    StackCut cut = cut_stack(depth, limits_.max_stack_depth);
    const uint64_t root_budget = cut.root_end;
    const uint64_t leaf_budget = depth - cut.leaf_begin;
    // sample.locations is leaf first.
    size_t leaf_count = 0;
    uint64_t leaf_frames = 0;
    while (leaf_count < sample.locations.size() &&
           leaf_frames + frames_at(sample.locations[leaf_count]) <= leaf_budget) {
      leaf_frames += frames_at(sample.locations[leaf_count++]);
    }
    size_t root_count = 0;
    uint64_t root_frames = 0;
    while (leaf_count + root_count < sample.locations.size() &&
           root_frames + frames_at(sample.locations[sample.locations.size() - 1 - root_count]) <=
               root_budget) {
      root_frames += frames_at(sample.locations[sample.locations.size() - 1 - root_count++]);
    }
    std::vector<LocationId> kept;
    kept.reserve(leaf_count + 1 + root_count);
    kept.insert(kept.end(), sample.locations.begin(), sample.locations.begin() + static_cast<ptrdiff_t>(leaf_count));
    kept.push_back(elided_location());
    kept.insert(kept.end(), sample.locations.end() - static_cast<ptrdiff_t>(root_count), sample.locations.end());
    sample.locations = std::move(kept);
    return leaf_frames + 1 + root_frames;
  }

  Profile& p_;
  const InputLimits& limits_;
  LimitReport report_;
  std::optional<FunctionId> elided_function_;
  std::optional<LocationId> elided_location_;
};

}  // namespace

void LimitReport::add(const LimitReport& other) {
  stacks_cut = common::saturating_add(stacks_cut, other.stacks_cut);
  deepest = std::max(deepest, other.deepest);
  names_cut = common::saturating_add(names_cut, other.names_cut);
  longest = std::max(longest, other.longest);
}

std::vector<std::string> LimitReport::notes(const InputLimits& limits) const {
  std::vector<std::string> out;
  if (stacks_cut > 0) {
    out.push_back(fmt::format(
        "{} {} deeper than {} frames: the middle of each is replaced by one '{}' frame (the deepest "
        "had {} frames; --max-stack-depth raises the limit)",
        stacks_cut, plural(stacks_cut, "stack", "stacks"), limits.max_stack_depth, kElidedFrames,
        deepest));
  }
  if (names_cut > 0) {
    out.push_back(fmt::format(
        "{} {} longer than {} bytes cut short, ending in '…' (the longest had {} bytes; "
        "--max-name-length raises the limit)",
        names_cut, plural(names_cut, "name", "names"), limits.max_name_length, longest));
  }
  return out;
}

std::string shorten_name(std::string_view name, size_t max_bytes) {
  if (name.size() <= max_bytes) return std::string(name);
  size_t cut = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) --cut;
  std::string out(name.substr(0, cut));
  if (max_bytes >= kEllipsis.size()) out += kEllipsis;
  return out;
}

StackCut cut_stack(size_t depth, size_t max_depth) {
  if (depth <= max_depth) return {depth, depth};
  size_t keep = max_depth > 0 ? max_depth - 1 : 0;  // one frame is the marker
  size_t root = keep / 2;
  return {root, depth - (keep - root)};
}

Result<LimitReport> apply_limits(Profile& profile, const InputLimits& limits, std::string_view source) {
  Limiter limiter(profile, limits);
  limiter.shorten_strings();
  limiter.cut_inline_chains();
  if (auto ok = limiter.cut_stacks(source); !ok) return std::unexpected(ok.error());
  return limiter.report();
}

}  // namespace ember::profile
