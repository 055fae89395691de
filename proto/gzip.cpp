#include "proto/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <memory>

#include <fmt/format.h>

namespace ember::proto {

namespace {

// zlib counts in uInt (32 bits); larger buffers are fed in slices of this size.
constexpr size_t kMaxSlice = UINT_MAX;
constexpr size_t kMinOutputChunk = 64 * 1024;
// Deflate cannot compress better than about 1032:1, which bounds a believable output size.
constexpr size_t kMaxDeflateRatio = 1032;
// Window bits for gzip framing only (16 + 15): raw zlib or deflate streams are not pprof files.
constexpr int kGzipWindowBits = 16 + MAX_WBITS;

struct DeflateEnd {
  void operator()(z_stream* s) const { deflateEnd(s); }
};
struct InflateEnd {
  void operator()(z_stream* s) const { inflateEnd(s); }
};

bool starts_with_gzip_magic(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

}  // namespace

Result<std::string> gzip_compress(std::string_view data, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return make_error(ErrorCode::kInternal, "gzip: cannot initialise zlib's deflate");
  }
  std::unique_ptr<z_stream, DeflateEnd> guard(&zs);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(std::min(data.size(), kMaxSlice))) + 64);
  size_t in_pos = 0;
  size_t out_pos = 0;
  for (;;) {
    size_t in_slice = std::min(data.size() - in_pos, kMaxSlice);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_slice);
    if (out_pos == out.size()) out.resize(out.size() * 2);
    size_t out_slice = std::min(out.size() - out_pos, kMaxSlice);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(out_slice);
    bool last = in_pos + in_slice == data.size();
    int rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    in_pos += in_slice - zs.avail_in;
    out_pos += out_slice - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return make_error(ErrorCode::kInternal, fmt::format("gzip: deflate failed ({})", rc));
    }
  }
  out.resize(out_pos);
  return out;
}

Result<std::string> gzip_decompress(std::string_view data, size_t max_bytes) {
  if (!starts_with_gzip_magic(data)) {
    return make_error(ErrorCode::kMalformed, "not gzip data");
  }
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
    return make_error(ErrorCode::kInternal, "gzip: cannot initialise zlib's inflate");
  }
  std::unique_ptr<z_stream, InflateEnd> guard(&zs);

  // The output buffer never grows past one byte more than the limit: reaching that byte is
  // how a bomb is detected, with at most max_bytes + 1 allocated.
  const size_t cap = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
  // The trailer's ISIZE (size mod 2^32) is a hint only: it is unchecked until the end, so the
  // first allocation is also bounded by what deflate could possibly produce.
  size_t hint = kMinOutputChunk;
  if (data.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    size_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (size_t{t[3]} << 24);
    size_t believable = data.size() > SIZE_MAX / kMaxDeflateRatio ? SIZE_MAX
                                                                   : data.size() * kMaxDeflateRatio;
    hint = std::max(hint, std::min(isize + 1, believable));
  }

  std::string out;
  out.resize(std::min(hint, cap));
  size_t in_pos = 0;
  size_t out_pos = 0;
  while (out_pos <= max_bytes) {
    if (out_pos == out.size()) {
      out.resize(out.size() > cap / 2 ? cap : out.size() * 2);
    }
    size_t in_slice = std::min(data.size() - in_pos, kMaxSlice);
    size_t out_slice = std::min(out.size() - out_pos, kMaxSlice);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_slice);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(out_slice);
    int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_slice - zs.avail_in;
    out_pos += out_slice - zs.avail_out;
    if (out_pos > max_bytes) break;
    if (rc == Z_OK) continue;
    if (rc == Z_STREAM_END) {
      std::string_view rest = data.substr(in_pos);
      if (rest.empty()) {
        out.resize(out_pos);
        return out;
      }
      // Another member follows (gzip files may be concatenated); anything else is not gzip.
      if (!starts_with_gzip_magic(rest)) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("corrupt gzip data ({} bytes of trailing garbage)",
                                      rest.size()));
      }
      if (inflateReset(&zs) != Z_OK) {
        return make_error(ErrorCode::kInternal, "gzip: cannot reset zlib's inflate");
      }
      continue;
    }
    // Z_BUF_ERROR: no progress was possible although there was room for output, so the
    // stream wants input that the file does not have.
    if (rc == Z_BUF_ERROR && in_pos == data.size()) {
      return make_error(ErrorCode::kMalformed, "truncated gzip data");
    }
    if (rc == Z_MEM_ERROR) {
      return make_error(ErrorCode::kResourceExhausted, "gzip: out of memory");
    }
    return make_error(ErrorCode::kMalformed,
                      fmt::format("corrupt gzip data ({})",
                                  zs.msg != nullptr ? zs.msg : "invalid deflate stream"));
  }
  return make_error(ErrorCode::kResourceExhausted,
                    fmt::format("decompressed data exceeds the limit of {} bytes (a gzip bomb?)",
                                max_bytes));
}

}  // namespace ember::proto
