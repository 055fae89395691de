#pragma once
// Bounds on what one input may make ember hold after it is decoded: a 20 KB pprof file can name
// a 20-million-frame stack, a 4 MB one a 900 MB function name. The decoders bound the bytes; these
// bound the shape (the --max-* options of `ember`; README "Limits on inputs").
//
// A stack deeper than the limit, or a name longer, is cut and counted rather than refused: one
// absurd sample should not cost the user the rest of the profile, and the cut is visible (an
// elided-frames marker in the stack, "…" at the end of a name, a note on stderr). Too many frames
// in all is refused: nothing sensible can be drawn or kept from it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::profile {

inline constexpr size_t kDefaultMaxStackDepth = 4096;
inline constexpr size_t kDefaultMaxNameLength = 4096;
inline constexpr uint64_t kDefaultMaxFrames = 20'000'000;

// The frame that stands for the middle of a stack deeper than the limit.
inline constexpr std::string_view kElidedFrames = "[frames elided: stack deeper than the limit]";

struct InputLimits {
  size_t max_stack_depth = kDefaultMaxStackDepth;  // frames per stack (inlined frames count)
  size_t max_name_length = kDefaultMaxNameLength;  // bytes per string (function, file, label)
  uint64_t max_frames = kDefaultMaxFrames;         // frames in all stacks, each counting at least 1
};

// What the limits changed in one input.
struct LimitReport {
  uint64_t stacks_cut = 0;
  uint64_t deepest = 0;  // frames in the deepest stack that was cut
  uint64_t names_cut = 0;
  uint64_t longest = 0;  // bytes of the longest name that was cut

  void add(const LimitReport& other);
  // One line per kind of cut, without the source: "1 stack deeper than 4096 frames: ...".
  std::vector<std::string> notes(const InputLimits& limits) const;
};

// `name` cut to at most `max_bytes` on a UTF-8 character boundary, ending in "…".
std::string shorten_name(std::string_view name, size_t max_bytes);

// How a too-deep stack is cut: the `depth` positions 0..depth-1 (root first) keep [0, root_end)
// and [leaf_begin, depth), with one kElidedFrames frame between, max_depth frames in all. The
// root end keeps the entry point and callers, the leaf end the function that was running, so
// self time stays with the right name.
struct StackCut {
  size_t root_end = 0;
  size_t leaf_begin = 0;
};
StackCut cut_stack(size_t depth, size_t max_depth);

// Applies `limits` to a decoded profile in place (see above). Errors name `source` and the limit:
// "big.pb.gz: more than 20000000 frames in all stacks (the limit; --max-frames raises it)".
[[nodiscard]] Result<LimitReport> apply_limits(Profile& profile, const InputLimits& limits, std::string_view source);

}  // namespace ember::profile
