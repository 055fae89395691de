#include "symbolizer/build_profile.h"

#include <algorithm>
#include <unordered_map>

#include "profile/builder.h"
#include "profile/sample_types.h"

namespace ember::symbolizer {

namespace {

struct ModuleUse {
  std::vector<uint64_t> offsets;  // unique after sort
  uint64_t samples = 0;           // samples whose stack has a frame in the module
  uint64_t max_offset = 0;
  bool used = false;
};

// Python frames are names already: one function per (name, file, first line), one location per
// frame of the raw profile's table with the line being executed, in one mapping for Python code.
void add_python_locations(const profile::RawProfile& raw, const profile::Module& module,
                          std::span<const uint64_t> indices, profile::ProfileBuilder& builder,
                          std::unordered_map<uint64_t, profile::LocationId>& by_offset) {
  profile::Mapping mapping;
  mapping.filename = builder.intern(module.path.empty() ? profile::kPythonMappingName : module.path);
  mapping.kind = profile::MappingKind::kPython;
  mapping.memory_limit = UINT64_MAX;
  mapping.has_functions = mapping.has_filenames = mapping.has_line_numbers = true;
  const profile::MappingId mapping_id = builder.add_mapping(mapping);
  by_offset.reserve(indices.size());
  for (uint64_t index : indices) {
    if (index >= raw.python_frame_count()) continue;  // not made by a RawProfile: cannot happen
    const profile::PythonFrame& f = raw.python_frame(index);
    std::string_view name = raw.str(f.function);
    auto function = builder.add_function(name, name, raw.str(f.file), f.first_line);
    const profile::Line line{function, f.line, 0};
    by_offset.emplace(index, builder.add_location(mapping_id, index, std::span(&line, 1)));
  }
}

}  // namespace

profile::Profile build_profile(const profile::RawProfile& raw, Symbolizer& symbolizer,
                               const BuildOptions& options) {
  using profile::LocationId;
  using profile::MappingId;

  // 1. Which offsets of which module appear, and how many samples each module has.
  std::vector<ModuleUse> uses(raw.module_count());
  std::vector<uint32_t> seen_in_stack(raw.module_count(), UINT32_MAX);
  uint32_t stack_number = 0;
  raw.for_each_stack([&](const profile::SampleOrigin&, std::span<const profile::RawFrame> frames,
                         const profile::RawStackCounts& counts) {
    for (const profile::RawFrame& f : frames) {
      if (!f.module.valid() || f.module.value >= uses.size()) continue;
      ModuleUse& use = uses[f.module.value];
      use.used = true;
      use.offsets.push_back(f.offset);
      if (seen_in_stack[f.module.value] != stack_number) {
        seen_in_stack[f.module.value] = stack_number;
        use.samples += counts.samples;
      }
    }
    ++stack_number;
  });
  for (ModuleUse& use : uses) {
    std::sort(use.offsets.begin(), use.offsets.end());
    use.offsets.erase(std::unique(use.offsets.begin(), use.offsets.end()), use.offsets.end());
    if (!use.offsets.empty()) use.max_offset = use.offsets.back();
  }

  // 2. Mappings: the main module first, then the others in the order the collector met them.
  std::vector<uint32_t> order;
  uint32_t main = UINT32_MAX;
  if (raw.main_module.valid() && raw.main_module.value < uses.size() &&
      uses[raw.main_module.value].used) {
    main = raw.main_module.value;
  } else {
    uint64_t best = 0;
    for (uint32_t i = 0; i < uses.size(); ++i) {
      if (uses[i].used && raw.module(profile::ModuleId{i}).kind == profile::MappingKind::kFile &&
          uses[i].samples > best) {
        best = uses[i].samples;
        main = i;
      }
    }
  }
  if (main != UINT32_MAX) order.push_back(main);
  for (uint32_t i = 0; i < uses.size(); ++i) {
    if (uses[i].used && i != main) order.push_back(i);
  }

  profile::ProfileBuilder builder;
  builder.set_sample_types(profile::recording_sample_types(raw.off_cpu));
  profile::Profile& p = builder.profile();
  p.default_sample_type = builder.intern(profile::recording_default_sample_type(raw.off_cpu));
  p.period_type = profile::ValueType{builder.intern("cpu"), builder.intern("nanoseconds")};
  p.period = raw.period_ns;
  p.time_nanos = raw.start_time_ns;
  p.duration_nanos = raw.end_time_ns > raw.start_time_ns ? raw.end_time_ns - raw.start_time_ns : 0;
  for (const auto& comment : options.comments) p.comments.push_back(builder.intern(comment));

  // 3. Symbolize each module's unique offsets in one batch; one location per (module, offset).
  std::vector<std::unordered_map<uint64_t, LocationId>> locations(uses.size());
  std::vector<profile::Line> lines;
  for (uint32_t index : order) {
    const profile::Module& module = raw.module(profile::ModuleId{index});
    const ModuleUse& use = uses[index];
    if (module.kind == profile::MappingKind::kPython) {
      add_python_locations(raw, module, use.offsets, builder, locations[index]);
      continue;
    }
    std::vector<Symbol> symbols;
    if (module.kind == profile::MappingKind::kAnonymous && profile::is_off_cpu_frame(module.path)) {
      // The collector's stand-in for an off-CPU stack nobody saw: its name says what is known.
      symbols.assign(use.offsets.size(), Symbol{{Frame{module.path, module.path, {}, 0, 0}}});
    } else {
      symbols = symbolizer.symbolize(module, use.offsets);
    }
    symbols.resize(use.offsets.size());  // a short answer from a symbolizer means "unknown"

    profile::Mapping mapping;
    mapping.filename = builder.intern(module.path);
    mapping.build_id = builder.intern(module.build_id.hex());
    mapping.kind = module.kind;
    mapping.memory_start = 0;
    mapping.file_offset = 0;
    bool file_backed = module.kind == profile::MappingKind::kFile ||
                       module.kind == profile::MappingKind::kVdso;
    uint64_t file_size = file_backed ? symbolizer.module_info(module).file_size : 0;
    if (file_backed) {
      mapping.memory_limit = std::max(file_size, use.max_offset + 1);
    } else {
      mapping.memory_limit = UINT64_MAX;  // absolute addresses: the mapping covers them all
    }
    for (const Symbol& s : symbols) {
      if (s.empty()) continue;
      mapping.has_functions = true;
      if (s.frames.size() > 1) mapping.has_inline_frames = true;
      for (const Frame& f : s.frames) {
        if (!f.file.empty()) mapping.has_filenames = true;
        if (f.line > 0) mapping.has_line_numbers = true;
      }
    }
    MappingId mapping_id = builder.add_mapping(mapping);

    auto& by_offset = locations[index];
    by_offset.reserve(use.offsets.size());
    for (size_t i = 0; i < use.offsets.size(); ++i) {
      lines.clear();
      for (const Frame& f : symbols[i].frames) {
        auto function = builder.add_function(f.function.empty() ? f.system_name : f.function,
                                             f.system_name, f.file);
        lines.push_back(profile::Line{function, f.line, f.column});
      }
      by_offset.emplace(use.offsets[i], builder.add_location(mapping_id, use.offsets[i], lines));
    }
  }

  // 4. Samples, leaf first, with the origin as labels.
  std::unordered_map<uint64_t, LocationId> unmapped;  // addresses in no known mapping
  std::vector<LocationId> stack;
  std::vector<profile::Label> labels;
  const auto pid_key = builder.intern(profile::kLabelPid);
  const auto tid_key = builder.intern(profile::kLabelTid);
  const auto comm_key = builder.intern(profile::kLabelComm);
  const auto thread_comm_key = builder.intern(profile::kLabelThreadComm);
  const auto service_key = builder.intern(profile::kLabelService);
  std::vector<uint32_t> sample_of_stack;  // for the timeline: unique stack -> sample
  sample_of_stack.reserve(raw.unique_stacks());
  raw.for_each_stack([&](const profile::SampleOrigin& origin, std::span<const profile::RawFrame> frames,
                         const profile::RawStackCounts& counts) {
    stack.clear();
    for (const profile::RawFrame& f : frames) {
      if (f.module.valid() && f.module.value < locations.size()) {
        stack.push_back(locations[f.module.value].at(f.offset));
      } else {
        auto [it, inserted] = unmapped.try_emplace(f.offset);
        if (inserted) it->second = builder.add_location(MappingId{}, f.offset, {});
        stack.push_back(it->second);
      }
    }
    labels.clear();
    labels.push_back(profile::Label{pid_key, {}, origin.pid, {}});
    labels.push_back(profile::Label{tid_key, {}, origin.tid, {}});
    std::string_view comm = raw.str(origin.comm);
    std::string_view thread_comm = raw.str(origin.thread_comm);
    std::string_view service = raw.str(origin.service);
    if (!comm.empty()) labels.push_back(profile::Label{comm_key, builder.intern(comm), 0, {}});
    if (!service.empty()) labels.push_back(profile::Label{service_key, builder.intern(service), 0, {}});
    if (!thread_comm.empty()) {
      labels.push_back(profile::Label{thread_comm_key, builder.intern(thread_comm), 0, {}});
    }
    int64_t values[6];
    const size_t n = profile::recording_values(counts, raw.off_cpu, values);
    sample_of_stack.push_back(builder.add_sample(stack, std::span<const int64_t>(values, n), labels));
  });

  // 5. The time order, when the collector kept it.
  p.timeline.reserve(raw.timeline_size());
  raw.for_each_timed([&](int64_t time_ns, uint32_t stack) {
    if (stack < sample_of_stack.size()) p.timeline.push_back(profile::TimedSample{time_ns, sample_of_stack[stack]});
  });
  return std::move(builder).finish();
}

}  // namespace ember::symbolizer
