#pragma once
// gzip (RFC 1952) through zlib: what pprof files are compressed with.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ember::proto {

// zlib's fastest level, as Go's runtime/pprof uses: on ember's profiles it costs 6-9% in size
// against level 6 and saves 60-70% of the CPU time (bench/proto/README.md), which matters more
// for an always-on profiler than a few KiB per snapshot.
inline constexpr int kGzipLevel = 1;

// Compresses `data` into one gzip member.
[[nodiscard]] Result<std::string> gzip_compress(std::string_view data, int level = kGzipLevel);

// Decompresses gzip data: one member or several concatenated ones (as gzip(1) and Go's reader
// accept). Errors, without a file name: "truncated gzip data" and "corrupt gzip data (...)"
// (kMalformed); "decompressed data exceeds the limit of N bytes" (kResourceExhausted) as soon
// as the output would pass `max_bytes`, so a gzip bomb costs at most max_bytes of memory.
[[nodiscard]] Result<std::string> gzip_decompress(std::string_view data, size_t max_bytes);

}  // namespace ember::proto
