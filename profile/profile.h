#pragma once
// The profile model: samples over locations, functions and mappings, shaped like pprof's
// profile.proto so that encoding and decoding pprof loses nothing. It knows nothing of Linux,
// perf or files: the collector and decoders fill it; folding and renderers read it.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "profile/string_table.h"
#include "profile/process_resources.h"

namespace ember::profile {

// Index into one of the Profile's tables; kNone when absent.
template <class Tag>
struct Index {
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t value = kNone;
  constexpr bool valid() const { return value != kNone; }
  constexpr auto operator<=>(const Index&) const = default;
};
using MappingId = Index<struct MappingTag>;
using FunctionId = Index<struct FunctionTag>;
using LocationId = Index<struct LocationTag>;

// What a mapping is; decides frame annotations ("_[k]") and flamegraph colours.
enum class MappingKind : uint8_t {
  kFile,       // an ELF file: executable or shared library
  kKernel,     // the kernel and its modules ("[kernel.kallsyms]")
  kJit,        // anonymous code described by /tmp/perf-PID.map
  kVdso,       // "[vdso]"
  kAnonymous,  // other anonymous memory: nothing can name it
  // Interpreted Python code: its frames arrive already named (function, file, line), not as
  // addresses, and live in one pseudo-mapping named kPythonMappingName.
  kPython,
};
inline constexpr std::string_view kPythonMappingName = "[python]";
// Recognises the names other producers use ("[kernel.kallsyms]", "[vdso]", "perf-123.map",
// "[python]").
MappingKind mapping_kind_from_filename(std::string_view filename);

struct ValueType {
  StringId type;  // "samples", "cpu"
  StringId unit;  // "count", "nanoseconds"
};

struct Mapping {
  uint64_t memory_start = 0;
  uint64_t memory_limit = 0;
  uint64_t file_offset = 0;
  StringId filename;
  StringId build_id;  // hex text, as pprof stores it
  MappingKind kind = MappingKind::kFile;
  bool has_functions = false;
  bool has_filenames = false;
  bool has_line_numbers = false;
  bool has_inline_frames = false;
};

struct Function {
  StringId name;         // demangled, as shown
  StringId system_name;  // as in the symbol table (mangled)
  StringId filename;
  int64_t start_line = 0;
};

struct Line {
  FunctionId function;
  int64_t line = 0;
  int64_t column = 0;
  constexpr bool operator==(const Line&) const = default;
};

struct Location {
  MappingId mapping;
  // For ember's own recordings: the file offset in the mapping's file (mapping start 0, offset 0);
  // for other producers, whatever they wrote. Caller frames point into the call instruction.
  uint64_t address = 0;
  // Innermost (inlined) function first, the function the code belongs to last, as pprof orders them.
  // Empty when the address could not be symbolized.
  std::vector<Line> lines;
  bool is_folded = false;
};

struct Label {
  StringId key;
  StringId str;  // string labels: comm, thread_comm
  int64_t num = 0;  // numeric labels: pid, tid
  StringId num_unit;
  constexpr bool operator==(const Label&) const = default;
};

struct Sample {
  std::vector<LocationId> locations;  // leaf first
  std::vector<int64_t> values;        // one per sample type
  std::vector<Label> labels;
};

// One sample in time order: when it was taken and which sample (stack + thread labels) it
// counted into. Filled from recordings that kept their time order (ember record); empty for
// aggregated input (folded text, most pprof producers).
struct TimedSample {
  int64_t time_ns = 0;  // wall clock, Unix epoch
  uint32_t sample = 0;  // index into Profile::samples
  constexpr bool operator==(const TimedSample&) const = default;
};

struct Profile {
  StringTable strings;
  std::vector<ValueType> sample_types;
  ValueType period_type;
  int64_t period = 0;
  int64_t time_nanos = 0;
  int64_t duration_nanos = 0;
  std::vector<Mapping> mappings;
  std::vector<Function> functions;
  std::vector<Location> locations;
  std::vector<Sample> samples;
  std::vector<StringId> comments;
  StringId default_sample_type;
  StringId drop_frames;
  StringId keep_frames;
  StringId doc_url;  // a link to documentation of this profile's type (pprof's doc_url)
  // The samples in the order they were taken (see TimedSample); kept in pprof files as an
  // extra field that other readers skip (proto/pprof.h).
  std::vector<TimedSample> timeline;
  // What each profiled process used during the window (emberd's snapshots; empty elsewhere).
  // Kept in pprof files as another extra field; merging profiles drops it.
  std::vector<ProcessResources> resources;

  std::string_view str(StringId id) const { return strings.get(id); }
  const Mapping& mapping(MappingId id) const { return mappings[id.value]; }
  const Function& function(FunctionId id) const { return functions[id.value]; }
  const Location& location(LocationId id) const { return locations[id.value]; }

  // The sample type pprof shows when none is asked for: default_sample_type when set, else the last.
  size_t default_value_index() const;
  // Index of the sample type named `type` ("samples", "cpu"); error lists the ones that exist.
  [[nodiscard]] Result<size_t> value_index(std::string_view type) const;
  // Resolves an optional --sample-type choice with the pprof default.
  [[nodiscard]] Result<size_t> choose_value_index(std::optional<std::string_view> type) const;
  int64_t total(size_t value_index) const;

  // Label lookup on a sample; nullopt / empty view when absent.
  std::optional<int64_t> num_label(const Sample& s, std::string_view key) const;
  std::string_view str_label(const Sample& s, std::string_view key) const;
};

// Well-known label keys (pprof conventions used by Go, Pyroscope and Parca).
inline constexpr std::string_view kLabelPid = "pid";
inline constexpr std::string_view kLabelTid = "tid";
inline constexpr std::string_view kLabelComm = "comm";
inline constexpr std::string_view kLabelThreadComm = "thread_comm";
// Pyroscope's series key: the systemd service of the process, else the process name.
inline constexpr std::string_view kLabelService = "service_name";

}  // namespace ember::profile
