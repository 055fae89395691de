// Coverage for libFuzzer from code compiled by g++.
//
// clang 14, the compiler with -fsanitize=fuzzer on this platform, cannot compile ember: its
// concepts support is older than what libstdc++ 12's <expected> requires, so std::expected does
// not exist for it. ember's code is therefore compiled by g++ with
// -fsanitize-coverage=trace-pc,trace-cmp and linked with clang 14's libFuzzer runtime. The
// trace-cmp callbacks are libFuzzer's own (they feed its comparison tables and value profile).
// The trace-pc callback is redirected here with -Wl,--wrap (libFuzzer refuses trace-pc itself):
// each (previous block, this block) pair is hashed into libFuzzer's extra-counters section, which
// libFuzzer reads as coverage features after every run, as it reads its own counters.

#include <cstddef>
#include <cstdint>

namespace {
constexpr size_t kCounters = size_t{1} << 16;
}

extern "C" {

__attribute__((section("__libfuzzer_extra_counters"), used)) uint8_t ember_fuzz_edge_counters[kCounters];

// Not instrumented itself: it would call itself.
__attribute__((no_sanitize_coverage, no_sanitize("address", "undefined"))) void __wrap___sanitizer_cov_trace_pc() {
  static thread_local uintptr_t previous = 0;
  const auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const uintptr_t block = (pc ^ (pc >> 15) ^ (pc >> 31)) & (kCounters - 1);
  uint8_t& counter = ember_fuzz_edge_counters[block ^ previous];
  if (counter != 255) counter++;  // saturates: a hot edge never wraps back to "not seen"
  previous = block >> 1;
}

}  // extern "C"
