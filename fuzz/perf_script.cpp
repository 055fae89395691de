// The `perf script` text reader, and what is done with what it accepts: limits, folding, the
// speedscope timeline and pprof (with its timeline field) read back.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "flamegraph/speedscope.h"
#include "profile/folded.h"
#include "profile/perf_script.h"
#include "proto/pprof.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ember::profile::looks_like_perf_script(text);
  ember::profile::InputLimits limits;
  limits.max_frames = 1u << 16;
  auto profile = ember::profile::parse_perf_script(text, "fuzz.perf", limits);
  if (!profile) return 0;
  if (!ember::profile::apply_limits(*profile, limits, "fuzz.perf")) return 0;
  (void)ember::profile::format_folded(ember::profile::fold(*profile));
  if (!ember::flamegraph::render_speedscope(*profile)) __builtin_trap();
  // What was accepted is a valid profile: pprof writes it and reads it back, timeline included.
  auto bytes = ember::proto::encode(*profile, ember::proto::Compression::kNone);
  if (!bytes) __builtin_trap();
  auto back = ember::proto::decode(*bytes, "again.pb");
  if (!back || back->timeline != profile->timeline) __builtin_trap();
  return 0;
}
