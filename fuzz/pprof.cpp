// The pprof reader: gzip (bounded inflate) and profile.proto, recognised by content, then the
// profile encoded again: what was accepted must encode and decode.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/pprof.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)ember::proto::looks_like_pprof(bytes);
  ember::proto::DecodeLimits limits;
  // Small bounds: a fuzzer's inputs are small, and its memory limit is not ember's to find.
  limits.max_decompressed_bytes = size_t{16} << 20;
  limits.max_profile_bytes = size_t{256} << 20;
  auto profile = ember::proto::decode(bytes, "fuzz.pb.gz", limits);
  if (!profile) return 0;
  auto encoded = ember::proto::encode(*profile, ember::proto::Compression::kNone);
  if (!encoded) return 0;
  if (!ember::proto::decode(*encoded, "again.pb.gz", limits)) __builtin_trap();
  return 0;
}
