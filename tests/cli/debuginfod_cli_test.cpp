// ember record and ember symbolize name a stripped program's functions through a real debuginfod
// server (Debian's, on loopback), and with the server gone say so and keep what they can name.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/debuginfod_server.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

const std::string kStripped = STRIPPED_DIR "/seventy_thirty";
const std::string kDebug = STRIPPED_DIR "/seventy_thirty.debug";

std::string build_id_of(const std::string& path) {
  // "Build ID: 0123..." from readelf, as a user would find it.
  RunResult r = run({"/usr/bin/readelf", "-n", path});
  size_t at = r.out.find("Build ID: ");
  if (at == std::string::npos) return {};
  return r.out.substr(at + 10, r.out.find('\n', at) - at - 10);
}

// The address of a function in the unstripped debug file's symbol table.
std::string address_of(const std::string& symbol) {
  RunResult r = run({"/usr/bin/nm", kDebug});
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.ends_with(" " + symbol)) return "0x" + line.substr(0, line.find(' '));
  }
  return {};
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DebuginfodCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/debuginfod")) GTEST_SKIP() << "Debian's debuginfod is not installed";
    id_ = build_id_of(kStripped);
    ASSERT_FALSE(id_.empty()) << kStripped << " has no build-id";
    fs::create_directories(dir_ / "served");
    fs::copy_file(kDebug, dir_ / "served/seventy_thirty.debug");
  }
  // ember with DEBUGINFOD_URLS and its own cache directory.
  RunResult ember(const std::string& url, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/env", "DEBUGINFOD_URLS=" + url, "XDG_CACHE_HOME=" + (dir_ / "cache"),
                                  EMBER_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  TempDir dir_;
  std::string id_;
};

TEST_F(DebuginfodCliTest, SymbolizeNamesAStrippedBinarysFunctions) {
  const std::string alpha = address_of("_ZN5truth6Worker13compute_alphaEm");
  ASSERT_FALSE(alpha.empty());
  DebuginfodServer server(dir_ / "served", dir_ / "db.sqlite", id_);
  RunResult r = ember(server.url(), {"symbolize", "-e", kStripped, alpha});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("truth::Worker::compute_alpha\n")) << r.out;
  EXPECT_NE(r.out.find("seventy_thirty.cpp:"), std::string::npos) << r.out;
  // Turned off, nothing names it: the stripped binary exports no such symbol.
  r = ember(server.url(), {"symbolize", "-e", kStripped, "--no-debuginfod", alpha});
  EXPECT_EQ(r.out.find("compute_alpha"), std::string::npos) << r.out;
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
}

TEST_F(DebuginfodCliTest, RecordNamesAStrippedProgramAndSaysWhenTheServerIsGone) {
  std::string url;
  {
    DebuginfodServer server(dir_ / "served", dir_ / "db.sqlite", id_);
    url = server.url();
    RunResult r = ember(url, {"record", "-q", "-F", "499", "-o", dir_ / "named.folded", "--", kStripped,
                              "--seconds", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string folded = read_text(dir_ / "named.folded");
    EXPECT_NE(folded.find("main;truth::run;truth::Worker::step;truth::Worker::compute_alpha"), std::string::npos)
        << folded.substr(0, 2000);
  }
  // The server is gone and nothing is cached for this build-id in a fresh cache: the names that
  // can be had (none of the program's own) and one line saying why.
  fs::remove_all(dir_ / "cache");
  RunResult r = ember(url, {"record", "-F", "499", "-o", dir_ / "unnamed.folded", "--", kStripped,
                            "--seconds", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_text(dir_ / "unnamed.folded").find("compute_alpha"), std::string::npos);
  EXPECT_NE(r.err.find("debuginfod"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(url.substr(7)), std::string::npos) << r.err;  // names the server
}

}  // namespace
}  // namespace ember::testing
