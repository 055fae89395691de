// Python frames through `ember` as a user runs it: every place a stack goes (folded, SVG,
// pprof read back by report/convert/diff/compare and by go tool pprof), --no-python, and an
// interpreter ember cannot read (one warning line, native stacks kept).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/python_interpreters.h"
#include "tests/support/process.h"

namespace ember {
namespace {

namespace fs = std::filesystem;


using testing::read_file_text;
using testing::kPrograms;
using testing::kDebianPython;

std::vector<std::string> lines_containing(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

class PythonCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-python-cli-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(PythonCli, EveryOutputAndReaderKeepsPythonFrames) {
  if (::access(kDebianPython.c_str(), X_OK) != 0) GTEST_SKIP() << kDebianPython << " is not installed";
  const std::string pb = path("zlib.pb.gz"), folded = path("zlib.folded"), svg = path("zlib.svg");
  auto r = testing::run({EMBER_BIN, "record", "-F", "499", "-o", pb, "-o", folded, "-o", svg, "--metadata",
                         path("meta.json"), "--", kDebianPython, kPrograms + "/zlib_work.py", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The summary says how the Python frames went.
  auto summary = lines_containing(r.err, "ember: Python: 1 interpreter, Python frames in ");
  ASSERT_EQ(summary.size(), 1u) << r.err;
  EXPECT_NE(read_file_text(path("meta.json")).find("\"python_merged\""), std::string::npos);

  // Folded: the C library under its Python caller.
  const std::string text = read_file_text(folded);
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(;<module> \(zlib_work\.py:\d+\);main \(zlib_work\.py:\d+\);)"
                                                 R"(handle \(zlib_work\.py:\d+\);[^ ]*;deflate)")))
      << text.substr(0, 3000);

  // SVG: the same frames, in the Python colour (class p<shade>).
  const std::string picture = read_file_text(svg);
  EXPECT_TRUE(std::regex_search(picture, std::regex(R"(class="p\d+"[^>]*>[^<]*<title>handle \(zlib_work\.py:\d+\))")) ||
              std::regex_search(picture, std::regex(R"(<title>handle \(zlib_work\.py:\d+\)[^<]*</title>)")))
      << "no handle frame in the flamegraph";
  EXPECT_NE(picture.find(".p0{fill:#"), std::string::npos);

  // pprof read back: convert gives the same folded stacks, report counts functions.
  auto convert = testing::run({EMBER_BIN, "convert", pb, "-o", path("back.folded")});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  EXPECT_EQ(read_file_text(path("back.folded")), text);
  auto report = testing::run({EMBER_BIN, "report", pb, "--top", "50"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_NE(report.out.find("handle (zlib_work.py)"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("main (zlib_work.py)"), std::string::npos) << report.out;
  // diff and compare of the profile with itself: Python frames on both sides, nothing changed.
  auto diff = testing::run({EMBER_BIN, "diff", pb, pb, "-o", path("diff.svg")});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(read_file_text(path("diff.svg")).find("handle (zlib_work.py:"), std::string::npos);
  auto compare = testing::run({EMBER_BIN, "compare", pb, pb, "--fail-on-regression", "--json", path("c.json")});
  EXPECT_EQ(compare.exit_code, 0) << compare.out << compare.err;
  EXPECT_NE(read_file_text(path("c.json")).find("handle (zlib_work.py)"), std::string::npos);

  // go tool pprof reads the Python functions with their files.
  if (std::string(EMBER_GO_EXECUTABLE).empty()) GTEST_SKIP() << "go was not found when configuring";
  auto go = testing::run({"/usr/bin/env", "HOME=" + dir_.string(), "GOCACHE=" + path("gocache"), "GOFLAGS=", "GO111MODULE=off",
                          EMBER_GO_EXECUTABLE, "tool", "pprof", "-top", "-lines", "-nodefraction=0", pb});
  ASSERT_EQ(go.exit_code, 0) << go.err;
  EXPECT_TRUE(std::regex_search(go.out, std::regex(R"(handle .*zlib_work\.py:\d+)"))) << go.out;
  EXPECT_NE(go.out.find("deflate"), std::string::npos) << go.out;
}

TEST_F(PythonCli, NoPythonShowsTheInterpreterOnly) {
  if (::access(kDebianPython.c_str(), X_OK) != 0) GTEST_SKIP() << kDebianPython << " is not installed";
  auto r = testing::run({EMBER_BIN, "record", "--no-python", "-F", "499", "-o", path("x.folded"), "--", kDebianPython,
                         kPrograms + "/seventy_thirty.py", "1.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("Python:"), std::string::npos) << r.err;
  const std::string text = read_file_text(path("x.folded"));
  EXPECT_EQ(text.find("seventy_thirty.py"), std::string::npos) << text.substr(0, 2000);
  EXPECT_NE(text.find("PyEval_EvalCode"), std::string::npos) << text.substr(0, 2000);
}

TEST_F(PythonCli, AnUnsupportedVersionWarnsOnceAndKeepsNativeStacks) {
  const std::string python37 = testing::pyenv_root() + "/versions/3.7.16/bin/python3.7";
  if (::access(python37.c_str(), X_OK) != 0) GTEST_SKIP() << python37 << " is not installed";
  auto r = testing::run({EMBER_BIN, "record", "-F", "499", "-o", path("x.folded"), "--", python37,
                         kPrograms + "/seventy_thirty.py", "1.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto warnings = lines_containing(r.err, "is not supported");
  ASSERT_EQ(warnings.size(), 1u) << r.err;
  EXPECT_TRUE(std::regex_search(warnings[0], std::regex(R"(pid \d+: CPython 3\.7\.16 is not supported \(3\.8-3\.13 are\); )"
                                                        R"(its stacks are shown without Python frames)")))
      << warnings[0];
  const std::string text = read_file_text(path("x.folded"));
  EXPECT_EQ(text.find("seventy_thirty.py"), std::string::npos);
  EXPECT_NE(text.find("_PyEval_EvalFrameDefault"), std::string::npos) << text.substr(0, 2000);
}

}  // namespace
}  // namespace ember
