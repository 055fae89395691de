// `ember annotate` on a recording of a program with a known hot line (recorded by ember here),
// and on a CPU profile written by Go's runtime/pprof: the most samples are on the hot loop's
// line; sources that moved, changed or are gone are named instead of showing wrong lines.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/folded_shares.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

// The 1-based number of the first line of `file` containing `marker`.
int64_t line_of(const std::string& file, const std::string& marker) {
  std::istringstream in(read_text(file));
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find(marker) != std::string::npos) return n;
  }
  return 0;
}

struct Row {
  std::string flat, cum;
  int64_t line = 0;
  std::string text;
  bool hottest = false;
};

// The "flat cum LINE:text" rows of annotate's output (pprof -list's layout).
std::vector<Row> rows(const std::string& out) {
  std::vector<Row> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream r(line);
    Row row;
    std::string number;
    if (!(r >> row.flat >> row.cum >> number) || number.find(':') == std::string::npos) continue;
    const std::string digits = number.substr(0, number.find(':'));
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    row.line = std::stoll(digits);
    row.text = line.substr(line.find(':', line.find(digits)) + 1);
    row.hottest = line.ends_with("◀ hottest");
    rows.push_back(row);
  }
  return rows;
}

const Row* hottest(const std::vector<Row>& rs) {
  const Row* found = nullptr;
  for (const Row& r : rs) {
    if (r.hottest) {
      EXPECT_EQ(found, nullptr) << "two lines marked hottest";
      found = &r;
    }
  }
  return found;
}

int64_t count(const std::string& v) { return v == "." ? 0 : std::stoll(v); }

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class AnnotateTest : public ScratchTest {};

TEST_F(AnnotateTest, RecordedHotLoopHasTheMostSamplesAndSourcesAreChecked) {
  const std::string source = std::string(EMBER_SOURCE_DIR) + "/tests/fixtures/workloads/hot_loop.cpp";
  const int64_t hot = line_of(source, "// HOT");
  const int64_t warm = line_of(source, "// WARM");
  ASSERT_GT(hot, 0);
  auto rec = run({EMBER_BIN, "record", "-q", "--call-graph", "fp", "-F", "499", "-o", path("p.pb.gz"), "--",
                  HOT_LOOP_BIN, "--seconds", "1.5"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;

  auto r = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "^annotated::mix"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ROUTINE ======================== annotated::mix"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" in " + source + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(flat, cum)"), std::string::npos) << r.out;
  auto rs = rows(r.out);
  const Row* top = hottest(rs);
  ASSERT_NE(top, nullptr) << r.out;
  EXPECT_EQ(top->line, hot) << r.out;
  EXPECT_NE(top->text.find("// HOT"), std::string::npos) << r.out;
  int64_t hot_flat = 0, warm_flat = 0, all_flat = 0;
  for (const Row& row : rs) {
    if (row.line == hot) hot_flat = count(row.flat);
    if (row.line == warm) warm_flat = count(row.flat);
    all_flat += count(row.flat);
  }
  // Four times the work: most of the function's samples, several times the warm loop's.
  EXPECT_GT(hot_flat, 2 * warm_flat) << r.out;
  EXPECT_GT(hot_flat, all_flat / 2) << r.out;
  // The source is shown around the sampled lines (pprof's margin), not only the sampled lines.
  EXPECT_GT(rs.size(), 4u) << r.out;

  // --source-dir: a copy with the recorded path's tail under DIR is read instead (same mtime).
  const fs::path moved = dir_ / "checkout" / "tests" / "fixtures" / "workloads";
  fs::create_directories(moved);
  std::string text = read_text(source);
  const std::string marker = "// HOT";
  text.replace(text.find(marker), marker.size(), "// HOT (relocated copy)");
  write("checkout/tests/fixtures/workloads/hot_loop.cpp", text);
  fs::last_write_time(moved / "hot_loop.cpp", fs::last_write_time(source));
  auto relocated = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "^annotated::mix", "--source-dir",
                        path("checkout")});
  ASSERT_EQ(relocated.exit_code, 0) << relocated.err;
  const Row* top2 = hottest(rows(relocated.out));
  ASSERT_NE(top2, nullptr) << relocated.out;
  EXPECT_NE(top2->text.find("(relocated copy)"), std::string::npos) << relocated.out;

  // Modified after the recording: named, and no source lines shown.
  fs::last_write_time(moved / "hot_loop.cpp", fs::file_time_type::clock::now());
  auto newer = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "^annotated::mix", "--source-dir",
                    path("checkout")});
  ASSERT_EQ(newer.exit_code, 0) << newer.err;
  EXPECT_NE(newer.out.find("after the profile was taken"), std::string::npos) << newer.out;
  EXPECT_EQ(newer.out.find("(relocated copy)"), std::string::npos) << newer.out;
  const Row* top3 = hottest(rows(newer.out));
  ASSERT_NE(top3, nullptr) << newer.out;
  EXPECT_EQ(top3->line, hot);
  EXPECT_EQ(top3->text, "   ◀ hottest");

  // Shorter than the lines the profile has samples on: another file, said so.
  write("checkout/tests/fixtures/workloads/hot_loop.cpp", "int main() {}\n");
  fs::last_write_time(moved / "hot_loop.cpp", fs::last_write_time(source));
  auto shorter = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "^annotated::mix", "--source-dir",
                      path("checkout")});
  ASSERT_EQ(shorter.exit_code, 0) << shorter.err;
  EXPECT_NE(shorter.out.find("has 1 lines, but the profile has samples on line"), std::string::npos) << shorter.out;
  EXPECT_EQ(shorter.out.find("int main"), std::string::npos) << shorter.out;

  // Nothing matches: one line, exit 1; a bad regex: exit 2.
  auto none = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "^no_such_function$"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "ember: " + path("p.pb.gz") + ": no function matching '^no_such_function$' has samples\n");
  auto bad = run({EMBER_BIN, "annotate", path("p.pb.gz"), "--function", "(a"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--function: "), std::string::npos) << bad.err;
}

// A CPU profile from Go's runtime (cpuburn: burnAlpha's loop), then with its source gone.
TEST_F(AnnotateTest, GoProfileShowsTheLoopAndSaysOnceWhenTheSourceIsGone) {
  if (access("/usr/bin/go", X_OK) != 0) GTEST_SKIP() << "go is not installed";
  const std::string go_dir = std::string(EMBER_BINARY_DIR) + "/tests/proto/go";
  fs::create_directories(dir_ / "src");
  const std::string main_go = path("src/main.go");
  fs::copy_file(std::string(EMBER_SOURCE_DIR) + "/tests/fixtures/go/cpuburn/main.go", main_go);
  auto build = run({"/usr/bin/env", "GOCACHE=" + go_dir + "/cache", "GOPATH=" + go_dir + "/path",
                    "HOME=" + go_dir + "/home", "GO111MODULE=off", "GOENV=off", "GOFLAGS=", "GOTOOLCHAIN=local",
                    "/usr/bin/go", "build", "-o", path("cpuburn"), main_go},
                   {}, std::chrono::seconds(600));
  ASSERT_EQ(build.exit_code, 0) << build.err;
  // The source is older than the profile, as a checkout is.
  fs::last_write_time(main_go, fs::file_time_type::clock::now() - std::chrono::hours(1));
  auto burn = run({path("cpuburn"), path("cpu.pb.gz"), "1"});
  ASSERT_EQ(burn.exit_code, 0) << burn.err;

  // The loop body of burnAlpha: lines 28-30 of cpuburn/main.go.
  auto r = run({EMBER_BIN, "annotate", path("cpu.pb.gz"), "--function", "^main\\.burnAlpha$", "--sample-type",
                "samples"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ROUTINE ======================== main.burnAlpha in " + main_go), std::string::npos) << r.out;
  auto rs = rows(r.out);
  const Row* top = hottest(rs);
  ASSERT_NE(top, nullptr) << r.out;
  EXPECT_GE(top->line, 28) << r.out;
  EXPECT_LE(top->line, 30) << r.out;
  EXPECT_NE(top->text.find("x"), std::string::npos) << r.out;
  // The listing reaches back to the "func" line (where the profile records the function's
  // start, or within the five lines of margin before the first sampled line: Go 1.19 records none).
  ASSERT_FALSE(rs.empty());
  EXPECT_LE(rs.front().line, 26) << r.out;
  EXPECT_TRUE(std::any_of(rs.begin(), rs.end(),
                          [](const Row& row) { return row.line == 26 && row.text.find("func burnAlpha") != std::string::npos; }))
      << r.out;

  fs::remove(main_go);
  auto gone = run({EMBER_BIN, "annotate", path("cpu.pb.gz"), "--function", "^main\\.burn"});
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  // Two functions of the one missing file: said once; their sampled lines are still listed.
  EXPECT_EQ(occurrences(gone.out, "source not found: " + main_go), 1u) << gone.out;
  EXPECT_EQ(occurrences(gone.out, "ROUTINE"), 2u) << gone.out;
  auto gone_rows = rows(gone.out);
  EXPECT_FALSE(gone_rows.empty()) << gone.out;
  for (const Row& row : gone_rows) EXPECT_TRUE(row.text.empty() || row.text == "   ◀ hottest") << row.text;
}

}  // namespace
}  // namespace ember::testing
