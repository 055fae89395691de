// The folded-stacks reader, and what is done with what it accepts: the model and the text again.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "profile/folded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto folded = ember::profile::parse_folded(text, "fuzz.folded");
  if (!folded) return 0;
  ember::profile::Profile profile = ember::profile::to_profile(*folded);
  std::string again = ember::profile::format_folded(ember::profile::fold(profile));
  // What was accepted is written back in a form that is accepted again.
  if (!ember::profile::parse_folded(again, "again.folded")) __builtin_trap();
  return 0;
}
