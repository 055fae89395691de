// -o writes into what the user named: a FIFO or device is written in place, a symlink's target is
// replaced and the link kept, a failed write is one line naming the path (issue 16, findings 2
// and 7). A full disk during `ember record` keeps the recording.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <regex>
#include <string>

#include "tests/cli/cli_fixture.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

class OutputsTest : public ScratchTest {
 protected:
  void SetUp() override {
    ScratchTest::SetUp();
    folded_ = write("in.folded", "main;work 30\nmain;idle 70\n");
  }
  std::string folded_;
};

TEST_F(OutputsTest, FifoIsWrittenIntoNotReplaced) {
  std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader waits on the FIFO, as `ember convert ... -o pipe` users have one.
  auto reader = std::async(std::launch::async, [&] { return read(fifo); });
  auto r = run({EMBER_BIN, "convert", folded_, "-o", fifo, "--format", "folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(reader.get(), "main;idle 70\nmain;work 30\n");
  EXPECT_TRUE(fs::is_fifo(fifo));
}

TEST_F(OutputsTest, DevicesAreWrittenIntoAndStayDevices) {
  auto r = run({EMBER_BIN, "flamegraph", folded_, "-o", "/dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_char_device("/dev/null"));
  // Before the fix, as root: /dev/full became a regular file holding the SVG.
  auto full = run({EMBER_BIN, "flamegraph", folded_, "-o", "/dev/full"});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_EQ(full.err, "ember: cannot write /dev/full: No space left on device\n");
  EXPECT_TRUE(is_char_device("/dev/full"));
  auto convert = run({EMBER_BIN, "convert", folded_, "-o", "/dev/full", "--format", "pprof"});
  EXPECT_EQ(convert.exit_code, 1);
  EXPECT_EQ(convert.err, "ember: cannot write /dev/full: No space left on device\n");
  EXPECT_TRUE(is_char_device("/dev/full"));
}

TEST_F(OutputsTest, SymlinkedOutputKeepsItsLink) {
  std::string target = write("real.svg", "old");
  fs::create_symlink("real.svg", path("link.svg"));
  auto r = run({EMBER_BIN, "flamegraph", folded_, "-o", path("link.svg")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("link.svg")));
  EXPECT_EQ(fs::read_symlink(path("link.svg")), "real.svg");
  EXPECT_NE(read(target).find("<svg"), std::string::npos);
  // A link to a file that does not exist yet creates that file, as a shell redirection would.
  fs::create_symlink(path("sub/new.folded"), path("dangling.folded"));
  fs::create_directories(path("sub"));
  auto dangling = run({EMBER_BIN, "convert", folded_, "-o", path("dangling.folded")});
  ASSERT_EQ(dangling.exit_code, 0) << dangling.err;
  EXPECT_TRUE(fs::is_symlink(path("dangling.folded")));
  EXPECT_EQ(read(path("sub/new.folded")), "main;idle 70\nmain;work 30\n");
  // A symlink to a device: the device is written, the link stays.
  fs::create_symlink("/dev/full", path("full.svg"));
  auto full = run({EMBER_BIN, "flamegraph", folded_, "-o", path("full.svg")});
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_EQ(full.err, "ember: cannot write " + path("full.svg") + ": No space left on device\n");
  EXPECT_TRUE(fs::is_symlink(path("full.svg")));
  EXPECT_TRUE(is_char_device("/dev/full"));
}

TEST_F(OutputsTest, CommandsWritingStdoutFailWhenItCannotBeWritten) {
  auto converted = run({EMBER_BIN, "convert", folded_, "-o", path("b.pb.gz")});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  // Before the fix, compare printed into the void and exited 0. Not 1 either: to a CI gate that
  // means "regressed".
  auto compare = run({"/bin/sh", "-c", std::string(EMBER_BIN) + " compare " + folded_ + " " +
                                           path("b.pb.gz") + " > /dev/full"});
  EXPECT_EQ(compare.exit_code, 2);
  EXPECT_EQ(compare.err, "ember: cannot write stdout: No space left on device\n");
  auto report = run({"/bin/sh", "-c", std::string(EMBER_BIN) + " report " + folded_ + " > /dev/full"});
  EXPECT_EQ(report.exit_code, 1);
  EXPECT_EQ(report.err, "ember: cannot write stdout: No space left on device\n");
  auto flamegraph = run({"/bin/sh", "-c", std::string(EMBER_BIN) + " flamegraph " + folded_ + " > /dev/full"});
  EXPECT_EQ(flamegraph.exit_code, 1);
  EXPECT_EQ(flamegraph.err, "ember: cannot write stdout: No space left on device\n");
  auto symbolize = run({"/bin/sh", "-c", std::string(EMBER_BIN) + " symbolize -e " + EMBER_BIN +
                                             " 0x0 > /dev/full"});
  EXPECT_EQ(symbolize.exit_code, 1);
  EXPECT_NE(symbolize.err.find("ember: cannot write stdout: No space left on device\n"), std::string::npos)
      << symbolize.err;
  EXPECT_TRUE(is_char_device("/dev/full"));
}

TEST_F(OutputsTest, FullDiskDuringRecordKeepsTheRecording) {
  std::string tmp = path("tmp");
  fs::create_directories(tmp);
  auto r = run({"/usr/bin/env", "TMPDIR=" + tmp, EMBER_BIN, "record", "-q", "--call-graph", "fp",
                "-o", "/dev/full", "--format", "folded", "--", SEVENTY_THIRTY_BIN, "--seconds", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(is_char_device("/dev/full"));
  std::smatch m;
  std::regex expected(
      "ember: cannot write /dev/full: No space left on device\n"
      "ember: not written: /dev/full; the recording \\(([0-9]+) samples\\) was saved to (" + tmp +
      "/ember-recording-[0-9]+\\.pb\\.gz) instead: 'ember convert \\2 -o FILE' writes any format from it\n");
  ASSERT_TRUE(std::regex_match(r.err, m, expected)) << r.err;
  // What was saved is the whole recording.
  auto folded = run({EMBER_BIN, "convert", m[2].str(), "-o", "-"});
  ASSERT_EQ(folded.exit_code, 0) << folded.err;
  int64_t total = 0;
  std::istringstream lines(folded.out);
  std::string line;
  while (std::getline(lines, line)) total += std::stoll(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(total, std::stoll(m[1].str()));
  EXPECT_GT(total, 100);
}

TEST_F(OutputsTest, FullDiskDuringRecordSaysWhatIsLostWhenNothingCanBeSaved) {
  auto r = run({"/usr/bin/env", "TMPDIR=" + path("missing"), EMBER_BIN, "record", "-q", "--call-graph",
                "fp", "-o", "/dev/full", "--format", "folded", "--", SEVENTY_THIRTY_BIN, "--seconds", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::regex expected(
      "ember: cannot write /dev/full: No space left on device\n"
      "ember: not written: /dev/full; saving the recording to " + path("missing") +
      "/ember-recording-[0-9]+\\.pb\\.gz failed too \\(cannot write [^)]*: No such file or directory\\): "
      "its [0-9]+ samples are lost\n");
  EXPECT_TRUE(std::regex_match(r.err, expected)) << r.err;
  // With another output written, the message says which one still holds the recording.
  auto two = run({"/usr/bin/env", "TMPDIR=" + path("missing"), EMBER_BIN, "record", "-q", "--call-graph",
                  "fp", "-o", "/dev/full", "-o", path("ok.folded"), "--format", "folded", "--", SEVENTY_THIRTY_BIN,
                  "--seconds", "1"});
  EXPECT_EQ(two.exit_code, 1) << two.err;
  EXPECT_NE(two.err.find("): only " + path("ok.folded") + " holds it\n"), std::string::npos) << two.err;
  EXPECT_NE(read(path("ok.folded")).find("seventy_thirty;"), std::string::npos);
}

}  // namespace
}  // namespace ember::testing
