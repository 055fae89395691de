#pragma once
// pprof files (profile.proto, usually gzip-compressed): ember's snapshot format, and the common
// language of profilers. encode() writes files that every pprof reader accepts; decode() reads
// what other producers write (Go's runtime/pprof, perf_to_profile, Pyroscope, Parca...) and
// refuses hostile or broken input with one line that names the file, never a crash.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::proto {

enum class Compression { kGzip, kNone };

// Serializes `profile` as a profile.proto message: "" first in the string table (only strings
// that are referenced, each once), ids = model index + 1, an invalid MappingId or FunctionId as
// id 0. Fails (kInvalidArgument) when the profile refers to something it does not contain or a
// sample's value count differs from the number of sample types, as pprof readers would refuse.
[[nodiscard]] Result<std::string> encode(const profile::Profile& profile,
                           Compression compression = Compression::kGzip);

struct DecodeLimits {
  // Bound on the uncompressed size: a few KiB of gzip can expand to gigabytes (gzip bomb).
  size_t max_decompressed_bytes = size_t{1} << 30;
  // Bound on the memory of the decoded Profile (estimated from what is decoded): a small message
  // can stand for a large model (an empty Line takes 2 bytes on the wire and 24 in memory).
  size_t max_profile_bytes = size_t{2} << 30;
};

// Decodes a gzip-compressed or raw profile.proto message, recognised by content. Strings keep
// their file indices; tables keep the file's order (model index = position in the file). Every
// string index, id and reference is checked. Errors are one line starting with `source`
// ("current.pb.gz: not a pprof profile: truncated gzip data").
[[nodiscard]] Result<profile::Profile> decode(std::string_view bytes, std::string_view source,
                                const DecodeLimits& limits = {});

// The gzip magic bytes (what pprof itself tests to decide whether to decompress).
bool is_gzip(std::string_view bytes);

// Cheap content sniffing, for choosing a reader: gzip data, or bytes that start like a Profile
// message (known fields with their wire types). Text such as folded stacks is never taken for
// pprof. `bytes` may be the whole file or only its first few KiB.
bool looks_like_pprof(std::string_view bytes);

}  // namespace ember::proto
