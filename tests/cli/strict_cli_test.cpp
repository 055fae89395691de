// Every subcommand of ember, and emberd, refuse options they do not know, name them, and suggest
// the option that was probably meant (issue 16, finding 6).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cli/cli_fixture.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

class StrictCliTest : public ScratchTest {
 protected:
  void SetUp() override {
    ScratchTest::SetUp();
    folded_ = write("in.folded", "main;work 30\nmain;idle 70\n");
  }
  // Runs ember and expects exit 2 and exactly this one-line error.
  void expect_refused(const std::vector<std::string>& args, const std::string& message) {
    std::vector<std::string> argv{EMBER_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.err, "ember: " + message + "\n" + kUsageLine);
    EXPECT_EQ(r.out, "");
  }
  std::string folded_;
};

TEST_F(StrictCliTest, UnknownOptionBeforeTheLaunchedCommandIsNamed) {
  // Before the fix: silently dropped, and /bin/true was recorded (exit 0).
  expect_refused({"record", "--frobnicate", "--", "/bin/true"}, "unknown option --frobnicate");
  expect_refused({"record", "-o", path("x.folded"), "--frobnicate", "--", "/bin/true"},
                 "unknown option --frobnicate");
  // perf's form without "--": an unknown option is not the start of the command.
  expect_refused({"record", "--frobnicate", "/bin/true"}, "unknown option --frobnicate");
  EXPECT_FALSE(std::filesystem::exists(path("x.folded")));
}

TEST_F(StrictCliTest, MisspelledOptionIsNamedWithTheOptionMeant) {
  // Before the fix: "choose one of -p PID, -a, or a command to launch".
  expect_refused({"record", "-p", "1", "--frequncy", "99"},
                 "unknown option --frequncy (did you mean --frequency?)");
  expect_refused({"record", "-p", "1", "--frequency=99", "--durration", "1"},
                 "unknown option --durration (did you mean --duration?)");
  expect_refused({"flamegraph", folded_, "--widht", "800"}, "unknown option --widht (did you mean --width?)");
  // An option given as a value: the value is missing, and the "value" is a misspelled option.
  expect_refused({"convert", folded_, "-o", "--fromat", "svg"},
                 "-o needs a value; --fromat is not an option (did you mean --format?)");
}

TEST_F(StrictCliTest, EverySubcommandRefusesUnknownOptions) {
  std::string pprof = path("in.pb.gz");
  auto converted = run({EMBER_BIN, "convert", folded_, "-o", pprof});
  ASSERT_EQ(converted.exit_code, 0) << converted.err;
  expect_refused({"flamegraph", folded_, "-o", path("a.svg"), "--frobnicate"}, "unknown option --frobnicate");
  expect_refused({"convert", folded_, "-o", path("a.folded"), "--frobnicate"}, "unknown option --frobnicate");
  expect_refused({"report", "--frobnicate", folded_}, "unknown option --frobnicate");
  expect_refused({"diff", folded_, pprof, "--frobnicate", "-o", path("d.svg")}, "unknown option --frobnicate");
  expect_refused({"compare", folded_, pprof, "--frobnicate"}, "unknown option --frobnicate");
  expect_refused({"symbolize", "-e", EMBER_BIN, "0x1000", "--frobnicate"}, "unknown option --frobnicate");
  expect_refused({"record", "-p", "1", "-d", "1", "--frobnicate"}, "unknown option --frobnicate");
  expect_refused({"--frobnicate", "report", folded_}, "unknown option --frobnicate");
  // Short options too, alone or among flags.
  expect_refused({"report", "-Z", folded_}, "unknown option -Z");
  expect_refused({"compare", folded_, pprof, "-qZ"}, "unknown option -Z");
  for (const char* out : {"a.svg", "a.folded", "d.svg"}) EXPECT_FALSE(std::filesystem::exists(path(out)));
}

TEST_F(StrictCliTest, NegativeCountsAreRefusedNotWrapped) {
  // Before the fix, -n -5 became 18446744073709551611 and meant "all".
  expect_refused({"report", folded_, "-n", "-5"}, "--top: must be 0 or more, not -5");
}

TEST_F(StrictCliTest, ArgumentsAfterTheLaunchedCommandStayItsOwn) {
  // "--" ends ember's options: what follows, options included, is the command's.
  auto r = run({EMBER_BIN, "record", "-q", "-o", path("run.folded"), "--", "/bin/sh", "-c",
                "exit 0", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Something left over before "--" that is not an option is refused too.
  expect_refused({"record", "/bin/true", "--", "/bin/true"}, "unexpected argument '/bin/true'");
}

TEST_F(StrictCliTest, LongGarbageIsNotEchoedWhole) {
  std::string huge(100000, 'x');  // one argument may be at most 128 KiB
  auto r = run({EMBER_BIN, "report", "--" + huge, folded_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: unknown option --" + std::string(58, 'x') + "… (100002 bytes)\n" + kUsageLine);
}

TEST(EmberdCommandLine, UnknownOptionsAreNamed) {
  auto r = run({EMBERD_BIN, "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "emberd: unknown option --frobnicate\nRun 'emberd --help' for usage.\n");
  auto typo = run({EMBERD_BIN, "--check-config", "/nonexistent", "--frequncy", "99"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_EQ(typo.err, "emberd: unknown option --frequncy (did you mean --frequency?)\n"
                      "Run 'emberd --help' for usage.\n");
}

}  // namespace
}  // namespace ember::testing
