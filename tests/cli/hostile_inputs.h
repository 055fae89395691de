#pragma once
// Hostile inputs made in the test, small on disk: pprof messages written field by field (so they
// can say what ember's own encoder never would) and gzip streams of long repetitions, deflated
// piece by piece so that a 1 GB bomb never exists in memory.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ember::testing {

// profile.proto on the wire, by hand.
class PprofWriter {
 public:
  void varint(uint64_t v);
  void key(uint32_t field, uint32_t wire_type);
  void varint_field(uint32_t field, uint64_t v);
  void bytes_field(uint32_t field, std::string_view bytes);
  const std::string& bytes() const { return out_; }

  // Submessages ember needs for a valid profile.
  static std::string value_type(int64_t type, int64_t unit);
  static std::string sample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values);
  static std::string location(uint64_t id, uint64_t function_id);
  static std::string function(uint64_t id, int64_t name);

 private:
  std::string out_;
};

// A gzip member written incrementally.
class GzipStream {
 public:
  GzipStream();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  void write(std::string_view data);
  void repeat(std::string_view unit, uint64_t times);
  // Ends the stream and writes it to `path`; returns its size.
  uint64_t finish(const std::filesystem::path& path);

 private:
  void deflate_some(std::string_view data, int flush);
  struct State;
  std::unique_ptr<State> state_;
  std::string out_;
};

// A pprof profile (samples/count) with one sample whose stack is `depth` frames of one function.
void write_deep_stack_pprof(const std::filesystem::path& path, uint64_t depth);
// A pprof profile with one sample in a function whose name is `name_bytes` bytes long.
void write_long_name_pprof(const std::filesystem::path& path, uint64_t name_bytes);

}  // namespace ember::testing
