#pragma once
// Builds a Profile without duplicates: equal mappings, functions, locations and samples
// (same locations and labels) are stored once, and a repeated sample adds to its values.
// Producers (symbolizer, folded reader, pprof decoder) and merges all go through it.

#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::profile {

class ProfileBuilder {
 public:
  ProfileBuilder() = default;
  // Continues from an existing profile; its tables are indexed first.
  explicit ProfileBuilder(Profile base);

  Profile& profile() { return profile_; }
  StringId intern(std::string_view s) { return profile_.strings.intern(s); }

  void set_sample_types(std::span<const std::pair<std::string_view, std::string_view>> types);

  // Equal mappings (file, build-id, range, offset) are one; has_* flags are combined.
  MappingId add_mapping(const Mapping& mapping);
  FunctionId add_function(std::string_view name, std::string_view system_name,
                          std::string_view filename, int64_t start_line = 0);
  LocationId add_location(MappingId mapping, uint64_t address, std::span<const Line> lines);
  // Adds `values` to the sample with exactly these locations and labels (labels in any order);
  // returns the sample's index. A sum past INT64_MAX stays at INT64_MAX and is counted
  // (saturated_values()).
  uint32_t add_sample(std::span<const LocationId> leaf_first, std::span<const int64_t> values,
                      std::span<const Label> labels);

  // Adds every sample of `other`. Its sample types must be those of this profile
  // (the first merge into an empty builder adopts them). Time spans are united; timelines are
  // concatenated (kept in time order when each is) and bounded by kMaxTimelineSamples. A stack
  // whose values would add up past INT64_MAX is refused (kMalformed): the merged profile cannot
  // hold it, and a silent cap would be a wrong total.
  [[nodiscard]] Result<void> merge(const Profile& other);

  Profile finish() && { return std::move(profile_); }
  // Sums add_sample() could not hold and kept at INT64_MAX.
  uint64_t saturated_values() const { return saturated_; }

 private:
  void index_existing();
  static uint64_t hash_sample(std::span<const LocationId> locations, std::span<const Label> labels);

  Profile profile_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> mapping_index_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> function_index_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> location_index_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> sample_index_;
  std::vector<Label> label_scratch_;
  uint64_t saturated_ = 0;
};

}  // namespace ember::profile
