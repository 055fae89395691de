// `ember` as a user runs it: recording real processes by launching and by attaching, Ctrl-C,
// targets that exit or spawn threads, every error a user can make, and the file commands.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/cli/folded_shares.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kAlphaChain = {"main", "truth::run", "truth::Worker::step",
                                              "truth::Worker::compute_alpha"};
const std::vector<std::string> kBetaChain = {"main", "truth::run", "truth::Worker::step",
                                             "truth::Worker::compute_beta"};

// Reads ember's stderr until a line containing `text` (the event note may come first).
bool wait_for_err(Background& ember, const std::string& text) {
  for (int i = 0; i < 10; ++i) {
    std::string line = ember.read_err_line();
    if (line.find(text) != std::string::npos) return true;
    if (line.empty()) return false;
  }
  return false;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ember-cli-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // The 70/30 program's shares and shape, as every recording of it must show them.
  static void expect_seventy_thirty(const FoldedSummary& s, double chain_fraction = 0.95,
                                    const std::string& process = "seventy_thirty") {
    // Shares are judged to ±5 points: that needs on the order of a thousand samples.
    ASSERT_GT(s.total, 800) << "too few samples to judge shares";
    // compute_* may be the leaf or have inlined helpers (workload::churn) under it.
    int64_t alpha = s.containing("truth::Worker::compute_alpha");
    int64_t beta = s.containing("truth::Worker::compute_beta");
    ASSERT_GT(alpha + beta, 0);
    double alpha_share = static_cast<double>(alpha) / static_cast<double>(alpha + beta);
    EXPECT_NEAR(alpha_share, 0.70, 0.05) << "alpha " << alpha << " beta " << beta;
    std::printf("measured split: compute_alpha %.1f%%, compute_beta %.1f%% of %lld samples in compute_*\n",
                100 * alpha_share, 100 * (1 - alpha_share), static_cast<long long>(alpha + beta));
    // The exact caller chain, leaf's caller included.
    int64_t chained = s.chain_samples(kAlphaChain) + s.chain_samples(kBetaChain);
    EXPECT_GE(static_cast<double>(chained), chain_fraction * static_cast<double>(alpha + beta))
        << "samples in compute_* reaching main through the known chain";
    std::printf("exact caller chain to main: %.2f%% of them\n",
                100.0 * static_cast<double>(chained) / static_cast<double>(alpha + beta));
    // The root frame is the process name.
    for (const auto& [frames, value] : s.stacks) EXPECT_EQ(frames.front(), process);
  }

  fs::path dir_;
};

TEST_F(CliTest, RecordLaunchedCommand) {
  auto out = path("run.folded");
  auto r = run({EMBER_BIN, "record", "--call-graph", "fp", "-o", out, "--", SEVENTY_THIRTY_BIN,
                "--seconds", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ember: sampling cpu-clock at 999 Hz"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ember: command exited with status 0"), std::string::npos) << r.err;
  expect_seventy_thirty(summarize_folded(read_text(out)));
}

// The default: DWARF unwinding of a program built without frame pointers, as Debian builds them.
// Frame pointers would lose the leaf's caller; DWARF keeps the whole chain.
TEST_F(CliTest, RecordWithoutFramePointersByDefault) {
  auto out = path("nofp.folded");
  auto r = run({EMBER_BIN, "record", "-o", out, "--", NOFP_SEVENTY_THIRTY_BIN, "--seconds", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("with DWARF stacks"), std::string::npos) << r.err;
  auto s = summarize_folded(read_text(out));
  expect_seventy_thirty(s, 0.99, "nofp_70_30");
  // Complete stacks: they reach the C runtime's entry below main.
  EXPECT_GE(static_cast<double>(s.chain_samples({"__libc_start_call_main", "main"})), 0.99 * static_cast<double>(s.containing("main")));
}

// perf's stacks in folded form: `perf script -F comm,ip,sym` prints a header line per sample,
// one line per frame (leaf first; "(inlined)" after frames of inlined calls) and a blank line.
std::string perf_script_as_folded(const std::string& script) {
  std::string out;
  std::vector<std::string> frames;
  auto flush = [&] {
    if (frames.size() > 1) {
      out += frames.front();  // comm
      for (size_t i = frames.size(); i-- > 1;) out += ";" + frames[i];
      out += " 1\n";
    }
    frames.clear();
  };
  std::istringstream in(script);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      flush();
      continue;
    }
    if (line[0] != '\t' && line[0] != ' ') {
      flush();
      frames.push_back(line.substr(0, line.find_last_not_of(' ') + 1));
      continue;
    }
    std::istringstream fields(line);
    std::string ip, name;
    fields >> ip;
    std::getline(fields, name);
    name.erase(0, name.find_first_not_of(' '));
    if (name.ends_with(" (inlined)")) name.resize(name.size() - 10);
    if (auto paren = name.find('('); paren != std::string::npos && paren > 0) name.resize(paren);
    if (ip.size() == 16 && ip[0] == 'f') name += "_[k]";  // kernel half of the address space
    frames.push_back(name);
  }
  flush();
  return out;
}

// The check against the standard tool: the same program without frame pointers, recorded by ember
// (default: DWARF, 32 KiB) and by `perf record --call-graph dwarf` (8 KiB): the same 70/30
// shares within ±5 points, and ember's stacks at least as often complete.
TEST_F(CliTest, AgreesWithPerfDwarfOnTheSameProgram) {
  if (::access("/usr/bin/perf", X_OK) != 0) GTEST_SKIP() << "perf is not installed";
  auto perf_data = path("perf.data");
  auto rec = run({"/usr/bin/perf", "record", "-q", "--buildid-mmap", "--call-graph", "dwarf", "-F", "999", "-o",
                  perf_data, "--", NOFP_SEVENTY_THIRTY_BIN, "--seconds", "3"});
  if (rec.exit_code != 0) GTEST_SKIP() << "perf record cannot run here: " << rec.err;
  auto script = run({"/usr/bin/perf", "script", "-i", perf_data, "-F", "comm,ip,sym"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  auto out = path("ember.folded");
  auto r = run({EMBER_BIN, "record", "-q", "-F", "999", "-o", out, "--", NOFP_SEVENTY_THIRTY_BIN, "--seconds", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  struct Figures {
    double alpha_share = 0;
    double chained = 0;
  };
  auto figures = [](const FoldedSummary& s, const char* who) {
    int64_t alpha = s.containing("truth::Worker::compute_alpha");
    int64_t beta = s.containing("truth::Worker::compute_beta");
    // ~2,000 in 3 s on a CPU of its own; CI's parallel tests can take half of it (perf had 686
    // once), and a few hundred samples judge a 70/30 split within the 5 points asked.
    EXPECT_GT(alpha + beta, 400) << who << ": too few samples to judge shares";
    Figures f;
    if (alpha + beta == 0) return f;
    f.alpha_share = static_cast<double>(alpha) / static_cast<double>(alpha + beta);
    f.chained = static_cast<double>(s.chain_samples(kAlphaChain) + s.chain_samples(kBetaChain)) /
                static_cast<double>(alpha + beta);
    std::printf("%-6s compute_alpha %.1f%%, exact chain to main %.2f%% of %lld samples in compute_*\n", who,
                100 * f.alpha_share, 100 * f.chained, static_cast<long long>(alpha + beta));
    return f;
  };
  Figures perf = figures(summarize_folded(perf_script_as_folded(script.out)), "perf");
  Figures ember = figures(summarize_folded(read_text(out)), "ember");
  EXPECT_NEAR(ember.alpha_share, perf.alpha_share, 0.05);
  EXPECT_NEAR(ember.alpha_share, 0.70, 0.05);
  EXPECT_GE(ember.chained, perf.chained - 0.005);
  EXPECT_GE(ember.chained, 0.99);
}

TEST_F(CliTest, RecordAttachedProcess) {
  Background target({SEVENTY_THIRTY_BIN, "--seconds", "60"});
  ASSERT_EQ(target.read_line(), "ready");
  auto out = path("attached.folded");
  auto r = run({EMBER_BIN, "record", "--call-graph", "fp", "-p", std::to_string(target.pid()),
                "-d", "4", "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("recording PID " + std::to_string(target.pid()) + " for 4 s"), std::string::npos)
      << r.err;
  expect_seventy_thirty(summarize_folded(read_text(out)));
}

TEST_F(CliTest, CtrlCStopsAndStillWrites) {
  Background target({SEVENTY_THIRTY_BIN, "--seconds", "60"});
  ASSERT_EQ(target.read_line(), "ready");
  auto out = path("interrupted.folded");
  auto svg = path("interrupted.svg");
  Background ember({EMBER_BIN, "record", "--call-graph", "fp", "-p", std::to_string(target.pid()),
                    "-o", out, "-o", svg});
  ASSERT_TRUE(wait_for_err(ember, "Ctrl-C to stop"));
  // Let it gather samples, then interrupt as a user at the terminal would.
  usleep(1500 * 1000);
  auto r = ember.finish(SIGINT);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = summarize_folded(read_text(out));
  EXPECT_GT(s.total, 100);
  EXPECT_GT(s.containing("truth::Worker::compute_alpha"), 0);
  EXPECT_NE(read_text(svg).find("truth::Worker::compute_alpha"), std::string::npos);
}

// Ctrl-C at a terminal reaches the whole foreground group: ember and the command it launched.
// The recording is written, and the command's death by that SIGINT is not reported as a failure.
TEST_F(CliTest, CtrlCOfALaunchedCommandWritesAndSaysSo) {
  auto out = path("launched_interrupted.folded");
  // Background makes ember lead a process group of its own, as a shell's foreground job does.
  Background ember({EMBER_BIN, "record", "--call-graph", "fp", "-o", out, "--", SEVENTY_THIRTY_BIN,
                    "--seconds", "60"});
  ASSERT_TRUE(wait_for_err(ember, "recording"));
  usleep(1500 * 1000);
  ASSERT_EQ(kill(-ember.pid(), SIGINT), 0);
  auto r = ember.wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ember: the command was stopped by the same SIGINT as the recording\n"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("killed by signal"), std::string::npos) << r.err;
  EXPECT_GT(summarize_folded(read_text(out)).containing("truth::Worker::compute_alpha"), 0);
}

TEST_F(CliTest, TargetExitingMidRecordingEndsIt) {
  Background target({EXIT_MIDWAY_BIN, "--seconds", "2"});
  ASSERT_EQ(target.read_line(), "ready");
  auto out = path("exited.folded");
  // -d 60: the recording must end because the target is gone, with what it collected written.
  auto r = run({EMBER_BIN, "record", "--call-graph", "fp", "-p", std::to_string(target.pid()),
                "-d", "60", "-o", out},
               {}, std::chrono::seconds(45));
  ASSERT_FALSE(r.timed_out) << "ember kept recording a process that had exited";
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = summarize_folded(read_text(out));
  EXPECT_GT(s.containing("truth::busy_until_exit"), 100);
}

TEST_F(CliTest, ThreadCreatedAfterAttachingIsSampled) {
  Background target({LATE_THREAD_BIN, "--seconds", "2", "--delay", "60"});
  ASSERT_EQ(target.read_line(), "ready");
  auto out = path("late.folded");
  Background ember({EMBER_BIN, "record", "--call-graph", "fp", "--per-thread", "-p",
                    std::to_string(target.pid()), "-d", "30", "-o", out});
  ASSERT_TRUE(wait_for_err(ember, "recording PID"));
  // The thread is created only now, after ember attached.
  ASSERT_EQ(kill(target.pid(), SIGUSR1), 0);
  auto r = ember.wait(std::chrono::seconds(45));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = summarize_folded(read_text(out));
  int64_t late = 0;
  for (const auto& [frames, value] : s.stacks) {
    if (frames.size() > 2 && frames[1] == "late-worker" &&
        std::find(frames.begin(), frames.end(), "truth::late_thread_work") != frames.end()) {
      late += value;
    }
  }
  // Whatever CPU the machine gave it: the new thread's work is there, under its own name.
  EXPECT_GT(late, 100) << "the thread created after attaching was not sampled under its name";
  EXPECT_EQ(late, s.containing("truth::late_thread_work"));
}

TEST_F(CliTest, ErrorsAreOneClearLine) {
  // A PID that does not exist: named.
  auto gone = run({EMBER_BIN, "record", "-p", "999999999", "-o", path("x.svg")});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(gone.err, "ember: process 999999999 does not exist\n");
  EXPECT_FALSE(fs::exists(path("x.svg")));

  // A command that cannot be executed.
  auto nocmd = run({EMBER_BIN, "record", "-o", path("y.svg"), "--", "/nonexistent/bench"});
  EXPECT_EQ(nocmd.exit_code, 1);
  EXPECT_EQ(nocmd.err, "ember: cannot execute '/nonexistent/bench': No such file or directory\n");

  // An output path that cannot be written: checked before sampling starts (the command never runs).
  auto marker = path("ran");
  auto unwritable = run({EMBER_BIN, "record", "-o", path("no/such/dir/out.svg"), "--", "/bin/touch", marker});
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_EQ(unwritable.err, "ember: cannot write " + path("no/such/dir/out.svg") + ": directory " +
                                path("no/such/dir") + ": No such file or directory\n");
  EXPECT_FALSE(fs::exists(marker));

  // Nothing to record, a bad PID list, an unknown format.
  auto nothing = run({EMBER_BIN, "record"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("nothing to record"), std::string::npos);
  auto bad_pid = run({EMBER_BIN, "record", "-p", "12,abc"});
  EXPECT_EQ(bad_pid.exit_code, 2);
  EXPECT_EQ(bad_pid.err, "ember: invalid PID 'abc'\n");
  // --sampling chooses how -p and commands are sampled; -a has one way.
  auto per_thread_all = run({EMBER_BIN, "record", "-a", "--sampling", "per-thread", "-d", "1", "-o", path("a.folded")});
  EXPECT_EQ(per_thread_all.exit_code, 2);
  EXPECT_EQ(per_thread_all.err, "ember: --sampling per-thread is for -p and commands: -a always samples per CPU\n");
  auto bad_sampling = run({EMBER_BIN, "record", "--sampling", "per-core", "--", "/bin/true"});
  EXPECT_EQ(bad_sampling.exit_code, 2);
  EXPECT_EQ(bad_sampling.err.rfind("ember: --sampling: per-core not in {auto,per-cpu,per-thread}\n", 0), 0u)
      << bad_sampling.err;
  auto bad_ext = run({EMBER_BIN, "record", "-o", path("out.png"), "--", "/bin/true"});
  EXPECT_EQ(bad_ext.exit_code, 2);
  EXPECT_NE(bad_ext.err.find("cannot tell the format from the file name"), std::string::npos);
}

TEST_F(CliTest, OneRecordingEveryFormatAndMetadata) {
  auto r = run({EMBER_BIN, "record", "--call-graph", "fp", "-o", path("a.svg"), "-o", path("a.folded"),
                "-o", path("a.pb.gz"), "--metadata", path("a.json"), "--", SEVENTY_THIRTY_BIN,
                "--seconds", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto svg = read_text(path("a.svg"));
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("truth::Worker::compute_alpha"), std::string::npos);
  auto xml = run({"/usr/bin/xmllint", "--noout", path("a.svg")});
  EXPECT_EQ(xml.exit_code, 0) << xml.err;

  // The pprof file holds the same stacks as the folded file.
  auto back = run({EMBER_BIN, "convert", path("a.pb.gz"), "-o", path("back.folded")});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(read_text(path("back.folded")), read_text(path("a.folded")));

  auto meta = nlohmann::json::parse(read_text(path("a.json")));
  EXPECT_EQ(meta["event"], "cpu-clock");
  EXPECT_EQ(meta["sampling"], "per-thread");  // a command without --off-cpu: as perf record does
  EXPECT_EQ(meta["frequency_hz"], 999);
  EXPECT_EQ(meta["target"]["command"][0], SEVENTY_THIRTY_BIN);
  EXPECT_EQ(meta["command_exit_code"], 0);
  EXPECT_EQ(meta["lost_samples"], 0);
  EXPECT_GT(meta["samples"].get<int>(), 100);
  EXPECT_GT(meta["duration_seconds"].get<double>(), 0.9);
  for (const char* key : {"host", "kernel", "start_time", "call_graph", "unique_stacks"}) {
    EXPECT_TRUE(meta.contains(key)) << key;
  }
  // The folded total is the metadata's sample count: nothing lost between stages.
  EXPECT_EQ(summarize_folded(read_text(path("a.folded"))).total, meta["samples"].get<int64_t>());
  // The collector's counters, all of them, by the names of the stats table.
  const auto& c = meta["collector"];
  EXPECT_EQ(c["samples"].get<int64_t>(), meta["samples"].get<int64_t>());
  EXPECT_EQ(c["lost_samples"], 0);
  EXPECT_GT(c["records"].get<int64_t>(), c["samples"].get<int64_t>()) << "MMAP2/COMM records too";
  EXPECT_GT(c["user_frames"].get<int64_t>(), 0);
  EXPECT_EQ(c["dwarf_unwinds"], 0) << "--call-graph fp";
  EXPECT_TRUE(c.contains("binaries_without_cfi"));
}

TEST_F(CliTest, FailingCommandFailsTheRecordingLikePerf) {
  auto r = run({EMBER_BIN, "record", "--call-graph", "fp", "-o", path("f.folded"), "--",
                EXIT_MIDWAY_BIN, "--seconds", "0.5", "--exit-code", "3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("ember: command exited with status 3"), std::string::npos) << r.err;
  EXPECT_GT(summarize_folded(read_text(path("f.folded"))).total, 0) << "the output is still written";
}

TEST_F(CliTest, StdoutOutputIsFoldedText) {
  auto r = run({EMBER_BIN, "record", "-q", "--call-graph", "fp", "-o", "-", "--", SEVENTY_THIRTY_BIN,
                "--seconds", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = summarize_folded(r.out.substr(r.out.find('\n') + 1));  // the fixture prints "ready" first
  EXPECT_GT(s.containing("truth::Worker::compute_alpha"), 0);
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, FlamegraphFromFoldedEscapesHostileNames) {
  std::ofstream(path("in.folded")) << "app;main;<script>&\"x\"</script> 30\napp;main;ok 70\n";
  auto r = run({EMBER_BIN, "flamegraph", path("in.folded"), "-o", path("out.svg"), "--title", "T<&>"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto svg = read_text(path("out.svg"));
  EXPECT_EQ(run({"/usr/bin/xmllint", "--noout", path("out.svg")}).exit_code, 0);
  EXPECT_EQ(svg.find("<script>&"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;&amp;"), std::string::npos);
  // From stdin too.
  auto piped = run({EMBER_BIN, "flamegraph", "-"}, "a;b 3\na;c 1\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.out.find("<svg"), std::string::npos);
}

TEST_F(CliTest, BadInputFilesAreNamed) {
  std::ofstream(path("bad.folded")) << "a;b 3\nno count here\n";
  auto r = run({EMBER_BIN, "flamegraph", path("bad.folded"), "-o", path("o.svg")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: " + path("bad.folded") +
                       ":2: 'here' is not a sample count (expected 'frame;frame COUNT')\n");
  std::ofstream(path("trunc.pb.gz"), std::ios::binary) << std::string("\x1f\x8b\x08\x00\x00\x00", 6);
  auto t = run({EMBER_BIN, "report", path("trunc.pb.gz")});
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_EQ(t.err.rfind("ember: " + path("trunc.pb.gz") + ": ", 0), 0u) << t.err;
  auto missing = run({EMBER_BIN, "convert", path("nope.pb.gz"), "-o", path("x.folded")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "ember: " + path("nope.pb.gz") + ": No such file or directory\n");
}

TEST_F(CliTest, ConvertRoundTripsFoldedThroughPprof) {
  const std::string text = "app;main;f 10\napp;main;g;sys_write_[k] 3\nnode;LazyCompile:*run_[j] 4\n";
  std::ofstream(path("in.folded")) << text;
  ASSERT_EQ(run({EMBER_BIN, "convert", path("in.folded"), "-o", path("mid.pb.gz")}).exit_code, 0);
  ASSERT_EQ(run({EMBER_BIN, "convert", path("mid.pb.gz"), "-o", path("out.folded")}).exit_code, 0);
  EXPECT_EQ(read_text(path("out.folded")), text);
}

// `ember report` must agree with `go tool pprof -top` on the numbers.
TEST_F(CliTest, ReportAgreesWithGoToolPprof) {
  if (access("/usr/bin/go", X_OK) != 0) GTEST_SKIP() << "go is not installed";
  auto r = run({EMBER_BIN, "record", "-q", "--call-graph", "fp", "-o", path("p.pb.gz"), "--",
                SEVENTY_THIRTY_BIN, "--seconds", "1.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto report = run({EMBER_BIN, "report", "--json", "-n", "0", path("p.pb.gz")});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  auto json = nlohmann::json::parse(report.out);
  auto pprof = run({"/usr/bin/go", "tool", "pprof", "-top", "-nodecount=1000", "-nodefraction=0",
                    "-edgefraction=0", path("p.pb.gz")});
  ASSERT_EQ(pprof.exit_code, 0) << pprof.err;
  // pprof rows: "flat flat% sum% cum cum% name"; compare flat and cum of our top functions.
  std::map<std::string, std::pair<int64_t, int64_t>> from_pprof;
  std::istringstream lines(pprof.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream row(line);
    std::string flat, flat_pct, sum_pct, cum, cum_pct;
    if (!(row >> flat >> flat_pct >> sum_pct >> cum >> cum_pct) || flat_pct.back() != '%' ||
        flat.find_first_not_of("0123456789") != std::string::npos) {
      continue;  // headers and notes
    }
    std::string name;
    std::getline(row, name);
    name.erase(0, name.find_first_not_of(' '));
    if (name.ends_with(" (inline)")) name.resize(name.size() - 9);
    from_pprof[name] = {std::stoll(flat), std::stoll(cum)};
  }
  ASSERT_FALSE(from_pprof.empty()) << pprof.out;
  int checked = 0;
  for (const auto& f : json["top_self"]) {
    std::string name = f["name"];
    if (name.ends_with("_[k]")) continue;  // pprof names kernel functions without the suffix
    // No symbol, or no mapping at all: pprof shows an address where ember shows a module offset.
    if (name.find("+0x") != std::string::npos || name == "[unknown]") continue;
    auto it = from_pprof.find(name);
    ASSERT_NE(it, from_pprof.end()) << name;
    EXPECT_EQ(f["self"].get<int64_t>(), it->second.first) << name;
    EXPECT_EQ(f["total"].get<int64_t>(), it->second.second) << name;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST_F(CliTest, SymbolizeLikeAddr2line) {
  auto nm = run({"/usr/bin/nm", "-C", SEVENTY_THIRTY_BIN});
  ASSERT_EQ(nm.exit_code, 0);
  std::string address;
  std::istringstream lines(nm.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.ends_with(" truth::Worker::compute_beta(unsigned long)")) address = line.substr(0, 16);
  }
  ASSERT_FALSE(address.empty());
  auto r = run({EMBER_BIN, "symbolize", "-e", SEVENTY_THIRTY_BIN, "0x" + address});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "truth::Worker::compute_beta");
  EXPECT_NE(r.out.find("seventy_thirty.cpp:"), std::string::npos) << r.out;
  // From stdin, as addr2line reads them.
  auto piped = run({EMBER_BIN, "symbolize", "-e", SEVENTY_THIRTY_BIN}, address + "\n");
  EXPECT_EQ(piped.out, r.out);
  auto bad = run({EMBER_BIN, "symbolize", "-e", SEVENTY_THIRTY_BIN, "xyz"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err, "ember: 'xyz' is not a hexadecimal address\n");
}

}  // namespace
}  // namespace ember::testing
