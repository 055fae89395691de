#include "profile/folded.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/checked.h"

#include "profile/sample_types.h"

namespace ember::profile {

namespace {

constexpr std::string_view kKernelSuffix = "_[k]";
constexpr std::string_view kJitSuffix = "_[j]";


// A frame name must not break the folded format: ';' separates frames (stackcollapse-perf.pl
// turns it into ':' too) and a line ends at a newline.
bool needs_sanitizing(std::string_view name) {
  for (unsigned char c : name) {
    if (c == ';' || c < 0x20) return true;
  }
  return false;
}

std::string sanitized(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == ';') c = ':';
    else if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return out;
}

std::string_view basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "handle (app.py:40)": the name, then the file and line in parentheses, as py-spy names Python
// frames. Returns the parts, or nothing when `name` does not end that way.
struct PythonName {
  std::string_view function, file;
  int64_t line = 0;
};
std::optional<PythonName> split_python_name(std::string_view name) {
  if (!name.ends_with(')')) return std::nullopt;
  const size_t open = name.rfind(" (");
  if (open == std::string_view::npos || open == 0) return std::nullopt;
  PythonName out;
  out.function = name.substr(0, open);
  std::string_view inside = name.substr(open + 2, name.size() - open - 3);
  if (inside.empty() || inside.find_first_of("()") != std::string_view::npos) return std::nullopt;
  const size_t colon = inside.rfind(':');
  if (colon != std::string_view::npos && colon + 1 < inside.size()) {
    std::string_view digits = inside.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.line);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && out.line >= 0) {
      out.file = inside.substr(0, colon);
      return out;
    }
  }
  // Without a line (report's function-level names): only a Python file name says it is Python.
  if (inside.ends_with(".py") || inside.ends_with(".pyw") ||
      (inside.starts_with('<') && inside.ends_with('>'))) {
    out.file = inside;
    out.line = 0;
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::string python_frame_name(std::string_view function, std::string_view file, int64_t line) {
  std::string_view base = basename(file);
  if (base.empty()) base = "<unknown>";
  if (line > 0) return fmt::format("{} ({}:{})", function, base, line);
  return fmt::format("{} ({})", function, base);
}

int64_t FoldedStacks::total() const {
  int64_t sum = 0;
  for (const Stack& s : stacks) sum = common::saturating_add(sum, s.value);
  return sum;
}

MappingKind frame_kind(std::string_view annotated, std::string_view* bare) {
  MappingKind kind = MappingKind::kFile;
  std::string_view name = annotated;
  if (name.ends_with(kKernelSuffix)) {
    kind = MappingKind::kKernel;
    name.remove_suffix(kKernelSuffix.size());
  } else if (name.ends_with(kJitSuffix)) {
    kind = MappingKind::kJit;
    name.remove_suffix(kJitSuffix.size());
  } else if (split_python_name(name)) {
    kind = MappingKind::kPython;  // the whole name is kept: file and line are part of it
  }
  if (bare != nullptr) *bare = name;
  return kind;
}

std::string unsymbolized_name(const Profile& profile, const Location& location) {
  if (!location.mapping.valid() || location.mapping.value >= profile.mappings.size()) {
    return "[unknown]";
  }
  const Mapping& m = profile.mapping(location.mapping);
  std::string_view file = basename(profile.str(m.filename));
  if (file.empty()) return "[unknown]";
  uint64_t offset = location.address - m.memory_start + m.file_offset;
  return fmt::format("{}+0x{:x}", file, offset);
}

FoldedStacks fold(const Profile& profile, const FoldOptions& options) {
  return merge_stacks(fold_flat(profile, options));
}

FlatStacks fold_flat(const Profile& profile, const FoldOptions& options) {
  FlatStacks out;
  size_t value_index = options.value_index.value_or(profile.default_value_index());
  if (value_index < profile.sample_types.size()) {
    out.value_type = profile.str(profile.sample_types[value_index].type);
    out.value_unit = profile.str(profile.sample_types[value_index].unit);
  }

  // Per name id, the file and the lines its frames were on (for FoldedStacks::sources).
  struct Seen {
    std::string_view file;
    int64_t low = 0, high = 0;
  };
  std::vector<Seen> seen;
  auto note_source = [&](StringId id, const Function& f, int64_t line) {
    std::string_view file = profile.str(f.filename);
    if (file.empty()) return;
    if (seen.size() <= id.value) seen.resize(id.value + 1);
    Seen& s = seen[id.value];
    if (s.file.empty()) {
      s = Seen{file, line, line};
    } else if (s.file == file && line > 0) {
      s.low = s.low > 0 ? std::min(s.low, line) : line;
      s.high = std::max(s.high, line);
    }
  };
  // Names per location, computed once: a location is usually shared by many samples.
  std::vector<std::vector<StringId>> location_frames(profile.locations.size());
  std::vector<bool> named(profile.locations.size(), false);
  auto frames_of = [&](LocationId id) -> const std::vector<StringId>& {
    auto& frames = location_frames[id.value];
    if (named[id.value]) return frames;
    named[id.value] = true;
    const Location& loc = profile.location(id);
    MappingKind kind = loc.mapping.valid() && loc.mapping.value < profile.mappings.size()
                           ? profile.mapping(loc.mapping).kind
                           : MappingKind::kAnonymous;
    std::string_view suffix;
    if (options.annotate && kind == MappingKind::kKernel) suffix = kKernelSuffix;
    if (options.annotate && kind == MappingKind::kJit) suffix = kJitSuffix;
    auto add = [&](std::string_view name) {
      if (needs_sanitizing(name)) {
        frames.push_back(out.names.intern(sanitized(name) + std::string(suffix)));
      } else if (suffix.empty()) {
        frames.push_back(out.names.intern(name));
      } else {
        frames.push_back(out.names.intern(std::string(name) + std::string(suffix)));
      }
    };
    if (loc.lines.empty()) {
      add(unsymbolized_name(profile, loc));
      return frames;
    }
    if (kind == MappingKind::kPython) {
      // "handle (app.py:40)": the base name of the file in the frame, the full path stays in
      // the function's filename.
      for (size_t i = loc.lines.size(); i-- > 0;) {
        const Line& line = loc.lines[i];
        if (!line.function.valid() || line.function.value >= profile.functions.size()) continue;
        const Function& f = profile.function(line.function);
        std::string_view name = profile.str(f.name);
        if (name.empty()) name = profile.str(f.system_name);
        add(python_frame_name(name, profile.str(f.filename), options.python_lines ? line.line : 0));
        note_source(frames.back(), f, line.line);
      }
      if (frames.empty()) add(unsymbolized_name(profile, loc));
      return frames;
    }
    // Root first: the outer function (last line) before the functions inlined into it.
    size_t first = options.inline_frames ? 0 : loc.lines.size() - 1;
    for (size_t i = loc.lines.size(); i-- > first;) {
      const Line& line = loc.lines[i];
      std::string_view name;
      const Function* f = nullptr;
      if (line.function.valid() && line.function.value < profile.functions.size()) {
        f = &profile.function(line.function);
        name = profile.str(f->name);
        if (name.empty()) name = profile.str(f->system_name);
      }
      if (name.empty()) {
        add(unsymbolized_name(profile, loc));
      } else {
        add(name);
        note_source(frames.back(), *f, line.line);
      }
    }
    return frames;
  };

  // Parts of the chosen value that are off-CPU time, shown under a marker leaf frame.
  struct Marked {
    size_t index;
    StringId frame;
  };
  std::vector<Marked> marked;
  if (options.mark_off_cpu && value_index < profile.sample_types.size()) {
    std::string_view chosen = profile.str(profile.sample_types[value_index].type);
    const bool all = chosen == kSampleTypeWall || chosen == kSampleTypeOffCpu;
    for (auto [type, frame] : {std::pair{kSampleTypeBlocked, kBlockedFrame},
                               std::pair{kSampleTypeRunnable, kRunnableFrame}}) {
      if (!all && chosen != type) continue;
      if (auto index = profile.value_index(type)) marked.push_back(Marked{*index, out.names.intern(frame)});
    }
  }

  std::vector<StringId> stack;
  auto add = [&](int64_t value) {
    out.stacks.push_back(FlatStacks::Stack{out.frames.size(), static_cast<uint32_t>(stack.size()), value});
    out.frames.insert(out.frames.end(), stack.begin(), stack.end());
  };
  for (const Sample& sample : profile.samples) {
    if (value_index >= sample.values.size() || sample.values[value_index] == 0) continue;
    stack.clear();
    if (options.process_root) {
      std::string_view comm = profile.str_label(sample, kLabelComm);
      auto pid = profile.num_label(sample, kLabelPid);
      if (!comm.empty() || (options.per_pid && pid)) {
        std::string root = sanitized(comm.empty() ? std::string_view("[unknown]") : comm);
        if (options.per_pid && pid) root += fmt::format("-{}", *pid);
        stack.push_back(out.names.intern(root));
      }
    }
    if (options.per_thread) {
      std::string_view thread = profile.str_label(sample, kLabelThreadComm);
      auto tid = profile.num_label(sample, kLabelTid);
      if (!thread.empty() || tid) {
        std::string frame = sanitized(thread.empty() ? std::string_view("[thread]") : thread);
        if (options.per_pid && tid) frame += fmt::format("-{}", *tid);
        stack.push_back(out.names.intern(frame));
      }
    }
    for (size_t i = sample.locations.size(); i-- > 0;) {
      LocationId id = sample.locations[i];
      if (!id.valid() || id.value >= profile.locations.size()) continue;
      const auto& frames = frames_of(id);
      stack.insert(stack.end(), frames.begin(), frames.end());
    }
    int64_t rest = sample.values[value_index];
    for (const Marked& m : marked) {
      if (m.index >= sample.values.size() || sample.values[m.index] == 0) continue;
      const int64_t part = sample.values[m.index];
      stack.push_back(m.frame);
      add(part);
      stack.pop_back();
      rest -= part;
    }
    if (rest != 0) add(rest);
  }
  out.sources.resize(seen.size());
  for (size_t id = 0; id < seen.size(); ++id) {
    const Seen& s = seen[id];
    if (s.file.empty()) continue;
    out.sources[id] = s.low <= 0              ? std::string(s.file)
                      : s.low == s.high       ? fmt::format("{}:{}", s.file, s.low)
                                              : fmt::format("{}:{}-{}", s.file, s.low, s.high);
  }
  return out;
}

Profile to_profile(const FoldedStacks& folded) {
  Profile p;
  p.sample_types.push_back(ValueType{p.strings.intern(folded.value_type),
                                     p.strings.intern(folded.value_unit)});
  // Built by hand rather than through ProfileBuilder: folded stacks are already unique, and one
  // function and location per distinct frame name is all that is needed.
  std::optional<MappingId> kernel_mapping, jit_mapping, python_mapping;
  auto mapping_for = [&](MappingKind kind) -> MappingId {
    auto& slot = kind == MappingKind::kKernel ? kernel_mapping
                 : kind == MappingKind::kJit  ? jit_mapping
                                              : python_mapping;
    if (!slot) {
      Mapping m;
      m.kind = kind;
      m.filename = p.strings.intern(kind == MappingKind::kKernel ? "[kernel.kallsyms]"
                                    : kind == MappingKind::kJit  ? "[jit]"
                                                                 : kPythonMappingName);
      m.has_functions = true;
      m.has_filenames = m.has_line_numbers = kind == MappingKind::kPython;
      slot = MappingId{static_cast<uint32_t>(p.mappings.size())};
      p.mappings.push_back(m);
    }
    return *slot;
  };
  std::vector<LocationId> location_of_name(folded.names.size());
  auto location_for = [&](StringId name_id) -> LocationId {
    LocationId& slot = location_of_name[name_id.value];
    if (slot.valid()) return slot;
    std::string_view bare;
    MappingKind kind = frame_kind(folded.names.get(name_id), &bare);
    Function f;
    int64_t line = 0;
    if (kind == MappingKind::kPython) {
      // Back into name, file and line, so that fold() names it exactly as before.
      const PythonName python = *split_python_name(bare);
      f.name = p.strings.intern(python.function);
      f.filename = p.strings.intern(python.file);
      line = python.line;
    } else {
      f.name = p.strings.intern(bare);
    }
    f.system_name = f.name;
    FunctionId fid{static_cast<uint32_t>(p.functions.size())};
    p.functions.push_back(f);
    Location loc;
    if (kind != MappingKind::kFile) loc.mapping = mapping_for(kind);
    loc.lines.push_back(Line{fid, line, 0});
    slot = LocationId{static_cast<uint32_t>(p.locations.size())};
    p.locations.push_back(std::move(loc));
    return slot;
  };
  for (const auto& stack : folded.stacks) {
    Sample s;
    s.values.push_back(stack.value);
    s.locations.reserve(stack.frames.size());
    for (size_t i = stack.frames.size(); i-- > 0;) s.locations.push_back(location_for(stack.frames[i]));
    p.samples.push_back(std::move(s));
  }
  return p;
}

void name_as_folded(FlatStacks& stacks, const FoldOptions& options) {
  // Only names fold() may change or give a source: empty ones, ones with control characters or
  // ';', kernel/JIT suffixes alone, Python-like endings. Each under a root of its own (its
  // position) so that fold() neither merges nor reorders them.
  std::vector<uint32_t> ids;
  FoldedStacks probe;
  for (uint32_t i = 0; i < stacks.names.size(); ++i) {
    std::string_view name = stacks.names.get(StringId{i});
    std::string_view bare;
    frame_kind(name, &bare);
    if (!bare.empty() && !name.ends_with(')') && !needs_sanitizing(name)) continue;
    StringId root = probe.names.intern(fmt::format("{}", ids.size()));
    probe.stacks.push_back(FoldedStacks::Stack{{root, probe.names.intern(name)}, 1});
    ids.push_back(i);
  }
  if (ids.empty()) return;
  FoldOptions plain = options;
  plain.value_index.reset();
  const FoldedStacks named = fold(to_profile(probe), plain);
  if (named.stacks.size() != ids.size()) return;  // cannot happen: every root is distinct
  for (size_t k = 0; k < ids.size(); ++k) {
    const auto& frames = named.stacks[k].frames;
    if (frames.size() != 2) continue;
    const StringId id{ids[k]};
    std::string_view renamed = named.names.get(frames[1]);
    if (renamed != stacks.names.get(id)) stacks.names.replace(id, std::string(renamed));
    std::string_view source = named.source(frames[1]);
    if (!source.empty()) {
      if (stacks.sources.size() <= id.value) stacks.sources.resize(id.value + 1);
      stacks.sources[id.value] = source;
    }
  }
}

std::string format_folded(const FoldedStacks& folded) {
  std::vector<std::string> lines;
  lines.reserve(folded.stacks.size());
  for (const auto& stack : folded.stacks) {
    std::string line;
    for (size_t i = 0; i < stack.frames.size(); ++i) {
      if (i != 0) line += ';';
      line += folded.names.get(stack.frames[i]);
    }
    line += ' ';
    line += std::to_string(stack.value);
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  size_t size = 0;
  for (const auto& l : lines) size += l.size() + 1;
  out.reserve(size);
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

}  // namespace ember::profile
