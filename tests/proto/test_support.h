#pragma once
// Shared by the proto tests: profiles with every feature pprof has, a hand-written protobuf
// writer for inputs no encoder would produce, field-by-field comparison, and running programs.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.h"
#include "tests/support/temp_dir.h"

namespace ember::proto::test {

// A recording-shaped profile: samples/count and cpu/nanoseconds (default: samples), three
// mappings with build-ids (a program, libc, the kernel) and one without symbols, kernel frames,
// an inlined function, a location without a mapping, a location without lines, string and
// numeric labels (one with a unit), period, times, comments and a doc_url.
profile::Profile make_rich_profile();

// A Python program as ember records it: native frames of the interpreter and of zlib, and
// Python frames (functions with files and first lines, locations with lines) in the "[python]"
// mapping; 30 samples in zlib's deflate under Server.handle, 70 in hot() under it.
profile::Profile make_python_profile();

// The shape bench/proto measures: `stacks` unique stacks of `depth` frames over `threads`
// threads of one process, `samples` samples in all.
profile::Profile make_recording(size_t stacks, size_t depth, size_t threads, size_t samples);

// Builds protobuf messages byte by byte, including what a correct encoder never writes.
class Wire {
 public:
  Wire& varint(uint32_t field, uint64_t value);
  Wire& fixed64(uint32_t field, uint64_t value);
  Wire& fixed32(uint32_t field, uint32_t value);
  Wire& bytes(uint32_t field, std::string_view payload);
  Wire& message(uint32_t field, const Wire& m) { return bytes(field, m.str()); }
  Wire& packed(uint32_t field, std::initializer_list<uint64_t> values);
  Wire& raw(std::string_view data);
  const std::string& str() const { return bytes_; }

 private:
  void put(uint64_t v);
  std::string bytes_;
};

// A minimal valid profile, written by hand:
//   strings "", "samples", "count", "main", "main.go"; sample_type samples/count;
//   function 1 "main" in main.go; location 1 (line main.go:10); one sample at location 1 = 5.
// `extra` is appended to the top-level message (protobuf merges repeated fields).
std::string minimal_profile(const Wire& extra = Wire());

// Compares every table and field of two profiles by content (string ids may differ); returns
// the differences, one per line, or "" when equal.
std::string differences(const profile::Profile& a, const profile::Profile& b);

// Folded text of the profile (inline frames, annotations, process root), for comparisons.
std::string folded(const profile::Profile& p, std::optional<size_t> value_index = std::nullopt);

// The frames of a sample as pprof names them, leaf first: inlined functions with " (inline)",
// a location without lines "[libfoo.so]" after its mapping's file.
std::vector<std::string> pprof_frames(const profile::Profile& p, const profile::Sample& s);

// Per frame name, as pprof's -top computes them: flat (the sample's leaf frame) and cum (any
// frame of the sample, once per sample).
struct FlatCum {
  int64_t flat = 0;
  int64_t cum = 0;
};
std::map<std::string, FlatCum> flat_cum(const profile::Profile& p, size_t value_index);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs argv[0] (looked up in PATH) with the environment plus `env` ("NAME=value"), capturing
// stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {});

// The shared temporary directory (tests/support/temp_dir.h).
using TempDir = ember::testing::TempDir;

void write_file(const std::string& path, std::string_view contents);
std::string read_file(const std::string& path);

}  // namespace ember::proto::test
