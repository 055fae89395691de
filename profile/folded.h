#pragma once
// Folded stacks, the text format of flamegraph.pl and stackcollapse-perf.pl:
//   root;caller;leaf COUNT
// and the step from a Profile to named stacks that every renderer uses.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "profile/limits.h"
#include "profile/profile.h"
#include "profile/string_table.h"

namespace ember::profile {

struct FoldedStacks {
  struct Stack {
    std::vector<StringId> frames;  // root first
    int64_t value = 0;
  };
  StringTable names;
  std::vector<Stack> stacks;
  // What the values count (shown in flamegraph tooltips): "samples"/"count", "cpu"/"nanoseconds".
  std::string value_type = "samples";
  std::string value_unit = "count";
  // Where each frame's code is, by name id, for tooltips: "src/app.cpp:42", or "src/app.cpp:30-42"
  // when the frame's samples are on several lines. Empty (or shorter than the table) where
  // unknown: folded text has no files, profiles without line numbers neither.
  std::vector<std::string> sources;

  int64_t total() const;
  std::string_view source(StringId id) const {
    return id.value < sources.size() ? std::string_view(sources[id.value]) : std::string_view();
  }
};

// Folded stacks as read, before equal stacks are merged: the frames of every line in one buffer,
// no allocation per line. For renderers that merge stacks themselves (the flamegraph layout
// builds its tree from them in one pass).
struct FlatStacks {
  struct Stack {
    size_t offset = 0;  // of its first (root) frame in `frames`
    uint32_t length = 0;
    int64_t value = 0;
  };
  StringTable names;
  std::vector<StringId> frames;
  std::vector<Stack> stacks;
  std::vector<std::string> sources;  // as FoldedStacks::sources
  std::string value_type = "samples";
  std::string value_unit = "count";

  std::span<const StringId> frames_of(const Stack& s) const { return {frames.data() + s.offset, s.length}; }
  std::string_view source(StringId id) const {
    return id.value < sources.size() ? std::string_view(sources[id.value]) : std::string_view();
  }
};

struct FoldOptions {
  std::optional<size_t> value_index;  // default: the profile's pprof default
  bool process_root = true;   // root frame is the process name (the sample's `comm` label)
  bool per_pid = false;       // root frame "comm-PID"
  bool per_thread = false;    // then a frame with the thread name ("name-TID" with per_pid)
  bool inline_frames = true;  // inlined functions as frames of their own
  bool annotate = true;       // "_[k]" after kernel frames, "_[j]" after JIT frames
  // Python frames "handle (app.py:40)" with the line being executed; off: "handle (app.py)", one
  // name per function (report and compare count functions, not lines).
  bool python_lines = true;
  // Off-CPU time (sample types blocked/runnable, see sample_types.h) ends in a leaf frame
  // "[off-cpu: blocked]" / "[off-cpu: runnable]" when the chosen type contains it (wall,
  // off_cpu, blocked, runnable): a wall-time flamegraph shows which part of a stack waited.
  bool mark_off_cpu = true;
};

// Names every sample's stack (root first) and merges equal stacks. Samples whose chosen value is
// zero are left out (see FoldOptions::mark_off_cpu for off-CPU time). A location without symbols is named "module+0xOFFSET" ("[unknown]" when it
// lies in no mapping).
FoldedStacks fold(const Profile& profile, const FoldOptions& options = {});
// fold() without merging equal stacks: each sample's stack in one buffer, for renderers that
// merge stacks themselves.
FlatStacks fold_flat(const Profile& profile, const FoldOptions& options = {});
// Equal stacks merged (values summed, saturating), in the order of their first appearance.
FoldedStacks merge_stacks(FlatStacks&& flat);

// Each frame becomes a function with a location of its own; "_[k]" and "_[j]" frames are placed in
// kernel and JIT mappings (the suffix is removed from the name and restored by fold()); Python
// frames "f (app.py:40)" in a Python mapping, as function f of file app.py at line 40.
Profile to_profile(const FoldedStacks& folded);

// Parses folded text. Blank lines are skipped; anything else that is not "stack COUNT" is an error
// naming `source` and the line, and so are counts that add up past INT64_MAX. `limits` apply as
// the lines are read (see profile/limits.h): deep stacks and long names are cut and counted in
// `report` when given; more frames in all than limits.max_frames is an error.
[[nodiscard]] Result<FoldedStacks> parse_folded(std::string_view text, std::string_view source,
                                  const InputLimits& limits = {}, LimitReport* report = nullptr);

// parse_folded without merging equal lines, into one buffer.
[[nodiscard]] Result<FlatStacks> parse_folded_flat(std::string_view text, std::string_view source,
                                                   const InputLimits& limits = {}, LimitReport* report = nullptr);

// Renames the frames of parsed folded text as fold(to_profile(...), options) names them (control
// characters replaced, Python frames "f (app.py:40)" with the file's base name, empty names
// "[unknown]"), and fills `sources` for Python frames: one pass over the distinct names, so
// rendering folded text skips the round trip through a Profile.
void name_as_folded(FlatStacks& stacks, const FoldOptions& options);

// One line per stack, sorted, as stackcollapse-perf.pl writes them.
std::string format_folded(const FoldedStacks& folded);

// The folded name of a Python frame: "handle (app.py:40)" (the file's base name), or
// "handle (app.py)" when line is 0.
std::string python_frame_name(std::string_view function, std::string_view file, int64_t line);

// Splits a frame name into its bare name and the kind its "_[k]"/"_[j]" suffix marks. A name
// ending in " (FILE:LINE)" (or " (FILE.py)") is kPython and kept whole.

MappingKind frame_kind(std::string_view annotated, std::string_view* bare = nullptr);

// The name of a frame with no symbol: "liblzma.so.5.4.1+0x15a20", or "[unknown]".
std::string unsymbolized_name(const Profile& profile, const Location& location);

}  // namespace ember::profile
