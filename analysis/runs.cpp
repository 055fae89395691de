#include "analysis/runs.h"

#include <fmt/format.h>

namespace ember::analysis {

std::string type_name(const profile::Profile& p, size_t index) {
  return fmt::format("{}/{}", p.str(p.sample_types[index].type), p.str(p.sample_types[index].unit));
}

double sample_count(const profile::Profile& p, size_t value_index, const FunctionValues& values) {
  for (size_t i = 0; i < p.sample_types.size(); ++i) {
    if (p.str(p.sample_types[i].type) == "samples" && p.str(p.sample_types[i].unit) == "count") {
      int64_t n = p.total(i);
      if (n > 0) return static_cast<double>(n);
    }
  }
  if (p.period > 0 && p.str(p.period_type.unit) == p.str(p.sample_types[value_index].unit)) {
    return static_cast<double>(values.total) / static_cast<double>(p.period);
  }
  size_t distinct = 0;
  for (const auto& s : p.samples) {
    if (value_index < s.values.size() && s.values[value_index] != 0) ++distinct;
  }
  return static_cast<double>(distinct);
}

Result<std::vector<size_t>> resolve_value_indices(std::span<const ProfileRun* const> runs,
                                                  const std::optional<std::string>& sample_type) {
  std::vector<size_t> indices;
  const ProfileRun& first = *runs.front();
  for (const ProfileRun* run : runs) {
    const profile::Profile& p = *run->profile;
    if (p.sample_types.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: no sample types", run->source));
    }
    size_t index = 0;
    if (sample_type) {
      auto found = p.value_index(*sample_type);
      if (!found) return std::unexpected(found.error().with_context(run->source));
      index = *found;
    } else {
      index = p.default_value_index();
    }
    if (!indices.empty()) {
      const profile::Profile& f = *first.profile;
      std::string want = type_name(f, indices.front()), have = type_name(p, index);
      if (want != have) {
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("sample types differ: {} has {}, {} has {}{}", first.source, want,
                        run->source, have,
                        sample_type ? "" : " (choose the sample type to compare)"));
      }
    }
    indices.push_back(index);
  }
  return indices;
}

}  // namespace ember::analysis
