// The whole pipeline on a checked-in perf record stream (tests/golden/README.md): replayed
// through the collector, symbolized from app.elf, folded per process and thread. The expected
// text is checked in too, so any change of ember's output shows in review as a change of
// expected.folded. EMBER_UPDATE_GOLDEN=1 rewrites it (then read the diff before committing).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "collector/recorder.h"
#include "profile/folded.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/symbolizer.h"
#include "tests/support/temp_dir.h"

namespace ember {
namespace {

const std::string kDir = std::string(EMBER_SOURCE_DIR) + "/tests/golden";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The stream's process (pid 4242) maps /opt/golden/app: found as PROC/4242/root/opt/golden/app,
// the way ember finds a binary through the target's mount namespace.
void make_proc_root(const std::string& root) {
  namespace fs = std::filesystem;
  fs::create_directories(root + "/4242/root/opt/golden");
  fs::create_symlink(kDir + "/app.elf", root + "/4242/root/opt/golden/app");
}

struct Replayed {
  std::string folded;
  collector::CollectorStats stats;
};

Replayed replay_golden_stream() {
  testing::TempDir dir;
  make_proc_root(dir / "proc");
  const std::string bytes = read_file(kDir + "/stream.bin");
  collector::Replay replay;
  // What `ember record --call-graph fp` asks the kernel for (event_source.cpp).
  replay.format.sample_type = collector::kSampleIdentifier | collector::kSampleIp | collector::kSampleTid |
                              collector::kSampleTime | collector::kSampleCpu | collector::kSamplePeriod |
                              collector::kSampleCallchain;
  replay.records = std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
  replay.proc_root = dir / "proc";
  replay.frequency_hz = 99;
  collector::RecordOptions options;
  options.call_graph = collector::CallGraphMode::kFramePointer;
  options.python.enabled = false;  // it would look for the stream's pids in the real /proc
  auto recorder = collector::Recorder::replay(replay, options);
  EXPECT_TRUE(recorder.has_value()) << recorder.error().message();
  if (!recorder) return {};
  profile::RawProfile raw = (*recorder)->take_profile();
  auto symbols = symbolizer::make_symbolizer(symbolizer::Options{});
  profile::FoldOptions fold;
  fold.per_pid = true;
  fold.per_thread = true;
  return {profile::format_folded(profile::fold(symbolizer::build_profile(raw, *symbols), fold)),
          (*recorder)->stats()};
}

TEST(GoldenPipeline, RecordedStreamFoldsToTheCheckedInText) {
  const Replayed r = replay_golden_stream();
  const std::string expected_path = kDir + "/expected.folded";
  if (const char* update = std::getenv("EMBER_UPDATE_GOLDEN"); update && std::string(update) == "1") {
    std::ofstream(expected_path, std::ios::binary) << r.folded;
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  EXPECT_EQ(r.folded, read_file(expected_path))
      << "ember's output of tests/golden/stream.bin changed; if that is intended, rerun with "
         "EMBER_UPDATE_GOLDEN=1 and commit the new expected.folded";
}

TEST(GoldenPipeline, CountersSayWhatTheStreamHolds) {
  const Replayed r = replay_golden_stream();
  EXPECT_EQ(r.stats.samples, 98u);                // 85 + 10 of the worker + 3 outside every mapping
  EXPECT_EQ(r.stats.frames_without_mapping, 3u);  // the leaf of those three
  EXPECT_EQ(r.stats.lost_samples, 5u);
  EXPECT_EQ(r.stats.malformed_records, 0u);
  EXPECT_EQ(r.stats.samples_without_process, 0u);
}

TEST(GoldenPipeline, ATruncatedStreamIsRefusedNamingTheRecord) {
  const std::string bytes = read_file(kDir + "/stream.bin");
  collector::Replay replay;
  replay.format.sample_type = collector::kSampleIdentifier | collector::kSampleTid | collector::kSampleTime;
  const std::string cut = bytes.substr(0, 100);  // the COMM (56 bytes), then 44 of the MMAP2
  replay.records = std::span(reinterpret_cast<const std::byte*>(cut.data()), cut.size());
  collector::RecordOptions options;
  options.python.enabled = false;
  auto recorder = collector::Recorder::replay(replay, options);
  ASSERT_FALSE(recorder.has_value());
  EXPECT_EQ(recorder.error().message(), "record 1 at byte 56: 44 bytes left, the header says 120");
}

}  // namespace
}  // namespace ember
