// emberd's configuration reader (TOML), and the TOML it writes for an accepted configuration,
// which must be accepted again.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ember::daemon::parse_config(text, "fuzz.toml");
  if (!config) return 0;
  const std::string again = ember::daemon::format_config(*config);
  if (!ember::daemon::parse_config(again, "again.toml")) __builtin_trap();
  return 0;
}
