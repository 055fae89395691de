#include "profile/builder.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/checked.h"
#include "profile/timeline.h"

namespace ember::profile {

namespace {

// 64-bit FNV-1a style mixing; good enough for table deduplication, where equality is checked.
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void add(uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 1099511628211ull;
  }
};

bool label_less(const Label& a, const Label& b) {
  if (a.key.value != b.key.value) return a.key.value < b.key.value;
  if (a.str.value != b.str.value) return a.str.value < b.str.value;
  if (a.num != b.num) return a.num < b.num;
  return a.num_unit.value < b.num_unit.value;
}

uint64_t hash_mapping(const Mapping& m) {
  Hasher h;
  h.add(m.memory_start);
  h.add(m.memory_limit);
  h.add(m.file_offset);
  h.add(m.filename.value);
  h.add(m.build_id.value);
  return h.h;
}

bool same_mapping(const Mapping& a, const Mapping& b) {
  return a.memory_start == b.memory_start && a.memory_limit == b.memory_limit &&
         a.file_offset == b.file_offset && a.filename == b.filename && a.build_id == b.build_id;
}

uint64_t hash_location(MappingId mapping, uint64_t address, std::span<const Line> lines) {
  Hasher h;
  h.add(mapping.value);
  h.add(address);
  for (const Line& l : lines) {
    h.add(l.function.value);
    h.add(static_cast<uint64_t>(l.line));
    h.add(static_cast<uint64_t>(l.column));
  }
  return h.h;
}

}  // namespace

ProfileBuilder::ProfileBuilder(Profile base) : profile_(std::move(base)) { index_existing(); }

void ProfileBuilder::index_existing() {
  for (uint32_t i = 0; i < profile_.mappings.size(); ++i) {
    mapping_index_[hash_mapping(profile_.mappings[i])].push_back(i);
  }
  for (uint32_t i = 0; i < profile_.functions.size(); ++i) {
    const Function& f = profile_.functions[i];
    Hasher h;
    h.add(f.name.value);
    h.add(f.system_name.value);
    h.add(f.filename.value);
    h.add(static_cast<uint64_t>(f.start_line));
    function_index_[h.h].push_back(i);
  }
  for (uint32_t i = 0; i < profile_.locations.size(); ++i) {
    const Location& l = profile_.locations[i];
    location_index_[hash_location(l.mapping, l.address, l.lines)].push_back(i);
  }
  for (uint32_t i = 0; i < profile_.samples.size(); ++i) {
    Sample& s = profile_.samples[i];
    std::sort(s.labels.begin(), s.labels.end(), label_less);
    sample_index_[hash_sample(s.locations, s.labels)].push_back(i);
  }
}

void ProfileBuilder::set_sample_types(
    std::span<const std::pair<std::string_view, std::string_view>> types) {
  profile_.sample_types.clear();
  for (const auto& [type, unit] : types) {
    profile_.sample_types.push_back(ValueType{intern(type), intern(unit)});
  }
}

MappingId ProfileBuilder::add_mapping(const Mapping& mapping) {
  uint64_t h = hash_mapping(mapping);
  auto& bucket = mapping_index_[h];
  for (uint32_t i : bucket) {
    Mapping& existing = profile_.mappings[i];
    if (same_mapping(existing, mapping)) {
      existing.has_functions |= mapping.has_functions;
      existing.has_filenames |= mapping.has_filenames;
      existing.has_line_numbers |= mapping.has_line_numbers;
      existing.has_inline_frames |= mapping.has_inline_frames;
      return MappingId{i};
    }
  }
  auto id = static_cast<uint32_t>(profile_.mappings.size());
  profile_.mappings.push_back(mapping);
  bucket.push_back(id);
  return MappingId{id};
}

FunctionId ProfileBuilder::add_function(std::string_view name, std::string_view system_name,
                                        std::string_view filename, int64_t start_line) {
  Function f{intern(name), intern(system_name), intern(filename), start_line};
  Hasher h;
  h.add(f.name.value);
  h.add(f.system_name.value);
  h.add(f.filename.value);
  h.add(static_cast<uint64_t>(f.start_line));
  auto& bucket = function_index_[h.h];
  for (uint32_t i : bucket) {
    const Function& e = profile_.functions[i];
    if (e.name == f.name && e.system_name == f.system_name && e.filename == f.filename &&
        e.start_line == f.start_line) {
      return FunctionId{i};
    }
  }
  auto id = static_cast<uint32_t>(profile_.functions.size());
  profile_.functions.push_back(f);
  bucket.push_back(id);
  return FunctionId{id};
}

LocationId ProfileBuilder::add_location(MappingId mapping, uint64_t address,
                                        std::span<const Line> lines) {
  auto& bucket = location_index_[hash_location(mapping, address, lines)];
  for (uint32_t i : bucket) {
    const Location& e = profile_.locations[i];
    if (e.mapping == mapping && e.address == address &&
        std::equal(e.lines.begin(), e.lines.end(), lines.begin(), lines.end())) {
      return LocationId{i};
    }
  }
  auto id = static_cast<uint32_t>(profile_.locations.size());
  profile_.locations.push_back(Location{mapping, address, {lines.begin(), lines.end()}, false});
  bucket.push_back(id);
  return LocationId{id};
}

uint64_t ProfileBuilder::hash_sample(std::span<const LocationId> locations,
                                     std::span<const Label> labels) {
  Hasher h;
  for (LocationId l : locations) h.add(l.value);
  h.add(UINT64_MAX);
  for (const Label& l : labels) {
    h.add(l.key.value);
    h.add(l.str.value);
    h.add(static_cast<uint64_t>(l.num));
    h.add(l.num_unit.value);
  }
  return h.h;
}

uint32_t ProfileBuilder::add_sample(std::span<const LocationId> leaf_first,
                                std::span<const int64_t> values, std::span<const Label> labels) {
  label_scratch_.assign(labels.begin(), labels.end());
  std::sort(label_scratch_.begin(), label_scratch_.end(), label_less);
  auto& bucket = sample_index_[hash_sample(leaf_first, label_scratch_)];
  for (uint32_t i : bucket) {
    Sample& e = profile_.samples[i];
    if (std::equal(e.locations.begin(), e.locations.end(), leaf_first.begin(), leaf_first.end()) &&
        e.labels == label_scratch_) {
      if (e.values.size() < values.size()) e.values.resize(values.size(), 0);
      for (size_t v = 0; v < values.size(); ++v) {
        auto sum = common::checked_add(e.values[v], values[v]);
        if (!sum) saturated_++;
        e.values[v] = sum ? *sum : common::saturating_add(e.values[v], values[v]);
      }
      return i;
    }
  }
  auto id = static_cast<uint32_t>(profile_.samples.size());
  profile_.samples.push_back(Sample{{leaf_first.begin(), leaf_first.end()},
                                    {values.begin(), values.end()},
                                    label_scratch_});
  bucket.push_back(id);
  return id;
}

Result<void> ProfileBuilder::merge(const Profile& other) {
  auto describe = [](const Profile& p) {
    std::string out;
    for (const ValueType& t : p.sample_types) {
      if (!out.empty()) out += ", ";
      out += std::string(p.str(t.type)) + "/" + std::string(p.str(t.unit));
    }
    return out;
  };
  if (profile_.sample_types.empty() && profile_.samples.empty()) {
    for (const ValueType& t : other.sample_types) {
      profile_.sample_types.push_back(ValueType{intern(other.str(t.type)), intern(other.str(t.unit))});
    }
    profile_.period_type = ValueType{intern(other.str(other.period_type.type)),
                                     intern(other.str(other.period_type.unit))};
    profile_.period = other.period;
    profile_.default_sample_type = intern(other.str(other.default_sample_type));
    profile_.time_nanos = other.time_nanos;
    profile_.duration_nanos = other.duration_nanos;
  } else {
    bool same = profile_.sample_types.size() == other.sample_types.size();
    for (size_t i = 0; same && i < other.sample_types.size(); ++i) {
      same = profile_.str(profile_.sample_types[i].type) == other.str(other.sample_types[i].type) &&
             profile_.str(profile_.sample_types[i].unit) == other.str(other.sample_types[i].unit);
    }
    if (!same) {
      return make_error(ErrorCode::kInvalidArgument, "cannot merge profiles with sample types [" +
                                                         describe(profile_) + "] and [" +
                                                         describe(other) + "]");
    }
    if (other.time_nanos != 0) {
      int64_t end = std::max(common::saturating_add(profile_.time_nanos, profile_.duration_nanos),
                             common::saturating_add(other.time_nanos, other.duration_nanos));
      int64_t start = profile_.time_nanos == 0 ? other.time_nanos
                                               : std::min(profile_.time_nanos, other.time_nanos);
      profile_.time_nanos = start;
      profile_.duration_nanos = common::saturating_add(end, start == INT64_MIN ? INT64_MAX : -start);
    }
  }

  std::vector<MappingId> mapping_map(other.mappings.size());
  for (size_t i = 0; i < other.mappings.size(); ++i) {
    Mapping m = other.mappings[i];
    m.filename = intern(other.str(m.filename));
    m.build_id = intern(other.str(m.build_id));
    mapping_map[i] = add_mapping(m);
  }
  std::vector<FunctionId> function_map(other.functions.size());
  for (size_t i = 0; i < other.functions.size(); ++i) {
    const Function& f = other.functions[i];
    function_map[i] = add_function(other.str(f.name), other.str(f.system_name),
                                   other.str(f.filename), f.start_line);
  }
  std::vector<LocationId> location_map(other.locations.size());
  std::vector<Line> lines;
  for (size_t i = 0; i < other.locations.size(); ++i) {
    const Location& l = other.locations[i];
    lines.clear();
    for (const Line& line : l.lines) {
      lines.push_back(Line{function_map[line.function.value], line.line, line.column});
    }
    MappingId mapping = l.mapping.valid() ? mapping_map[l.mapping.value] : MappingId{};
    location_map[i] = add_location(mapping, l.address, lines);
  }
  std::vector<LocationId> locations;
  std::vector<Label> labels;
  std::vector<uint32_t> sample_map;
  sample_map.reserve(other.samples.size());
  for (const Sample& s : other.samples) {
    locations.clear();
    for (LocationId id : s.locations) locations.push_back(location_map[id.value]);
    labels.clear();
    for (const Label& l : s.labels) {
      labels.push_back(Label{intern(other.str(l.key)), intern(other.str(l.str)), l.num,
                             intern(other.str(l.num_unit))});
    }
    const uint64_t saturated_before = saturated_;
    sample_map.push_back(add_sample(locations, s.values, labels));
    if (saturated_ != saturated_before) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("the values of a {}-frame stack add up past {} with the same stack in the inputs before it",
                                    s.locations.size(), INT64_MAX));
    }
  }
  append_timeline(profile_.timeline, other.timeline, sample_map);
  for (StringId c : other.comments) {
    StringId mine = intern(other.str(c));
    if (std::find(profile_.comments.begin(), profile_.comments.end(), mine) ==
        profile_.comments.end()) {
      profile_.comments.push_back(mine);
    }
  }
  return {};
}

}  // namespace ember::profile
