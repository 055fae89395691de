#include "tests/cli/hostile_inputs.h"

#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace ember::testing {

namespace {
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;
// profile.proto field numbers.
constexpr uint32_t kSampleType = 1, kSample = 2, kLocation = 4, kFunction = 5, kStringTable = 6;
}  // namespace

void PprofWriter::varint(uint64_t v) {
  while (v >= 0x80) {
    out_ += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out_ += static_cast<char>(v);
}

void PprofWriter::key(uint32_t field, uint32_t wire_type) { varint((uint64_t{field} << 3) | wire_type); }

void PprofWriter::varint_field(uint32_t field, uint64_t v) {
  key(field, kVarint);
  varint(v);
}

void PprofWriter::bytes_field(uint32_t field, std::string_view bytes) {
  key(field, kLengthDelimited);
  varint(bytes.size());
  out_ += bytes;
}

std::string PprofWriter::value_type(int64_t type, int64_t unit) {
  PprofWriter w;
  w.varint_field(1, static_cast<uint64_t>(type));
  w.varint_field(2, static_cast<uint64_t>(unit));
  return w.bytes();
}

std::string PprofWriter::sample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values) {
  PprofWriter ids, vals, w;
  for (uint64_t id : location_ids) ids.varint(id);
  for (int64_t v : values) vals.varint(static_cast<uint64_t>(v));
  w.bytes_field(1, ids.bytes());
  w.bytes_field(2, vals.bytes());
  return w.bytes();
}

std::string PprofWriter::location(uint64_t id, uint64_t function_id) {
  PprofWriter line, w;
  line.varint_field(1, function_id);
  w.varint_field(1, id);
  w.bytes_field(4, line.bytes());
  return w.bytes();
}

std::string PprofWriter::function(uint64_t id, int64_t name) {
  PprofWriter w;
  w.varint_field(1, id);
  w.varint_field(2, static_cast<uint64_t>(name));
  return w.bytes();
}

struct GzipStream::State {
  z_stream zs{};
};

GzipStream::GzipStream() : state_(std::make_unique<State>()) {
  if (deflateInit2(&state_->zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
}

GzipStream::~GzipStream() { deflateEnd(&state_->zs); }

void GzipStream::deflate_some(std::string_view data, int flush) {
  z_stream& zs = state_->zs;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  char buffer[65536];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = deflate(&zs, flush);
    out_.append(buffer, sizeof buffer - zs.avail_out);
  } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
}

void GzipStream::write(std::string_view data) { deflate_some(data, Z_NO_FLUSH); }

void GzipStream::repeat(std::string_view unit, uint64_t times) {
  std::string chunk;
  uint64_t per_chunk = std::max<uint64_t>(1, (1 << 20) / unit.size());
  for (uint64_t i = 0; i < std::min(per_chunk, times); ++i) chunk += unit;
  uint64_t done = 0;
  while (done < times) {
    uint64_t n = std::min(per_chunk, times - done);
    write(std::string_view(chunk).substr(0, n * unit.size()));
    done += n;
  }
}

uint64_t GzipStream::finish(const std::filesystem::path& path) {
  deflate_some({}, Z_FINISH);
  std::ofstream(path, std::ios::binary) << out_;
  return out_.size();
}

namespace {
// Everything of a one-function profile but the samples: sample type samples/count, location 1
// in function 1 named string 3.
PprofWriter one_function_profile() {
  PprofWriter p;
  p.bytes_field(kSampleType, PprofWriter::value_type(1, 2));
  p.bytes_field(kLocation, PprofWriter::location(1, 1));
  p.bytes_field(kFunction, PprofWriter::function(1, 3));
  p.bytes_field(kStringTable, "");
  p.bytes_field(kStringTable, "samples");
  p.bytes_field(kStringTable, "count");
  return p;
}
}  // namespace

void write_deep_stack_pprof(const std::filesystem::path& path, uint64_t depth) {
  PprofWriter p = one_function_profile();
  p.bytes_field(kStringTable, "recurse");
  // The sample: field 1 (packed location ids, all 1) is `depth` bytes long.
  PprofWriter head;
  head.key(1, kLengthDelimited);
  head.varint(depth);
  PprofWriter tail;
  tail.bytes_field(2, std::string(1, '\x01'));
  PprofWriter sample_key;
  sample_key.key(kSample, kLengthDelimited);
  sample_key.varint(head.bytes().size() + depth + tail.bytes().size());
  GzipStream gz;
  gz.write(p.bytes());
  gz.write(sample_key.bytes());
  gz.write(head.bytes());
  gz.repeat("\x01", depth);
  gz.write(tail.bytes());
  gz.finish(path);
}

void write_long_name_pprof(const std::filesystem::path& path, uint64_t name_bytes) {
  PprofWriter p = one_function_profile();
  p.bytes_field(kSample, PprofWriter::sample({1}, {1}));
  PprofWriter name_key;
  name_key.key(kStringTable, kLengthDelimited);
  name_key.varint(name_bytes);
  GzipStream gz;
  gz.write(p.bytes());
  gz.write(name_key.bytes());
  gz.repeat("f", name_bytes);
  gz.finish(path);
}

}  // namespace ember::testing
