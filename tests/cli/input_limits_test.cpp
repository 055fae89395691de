// Hostile profiles, made small on disk in the test: bounded after decoding, never an abort
// (issue 16, findings 3 and 5). Every refusal is one line naming the file and the limit.

#include <gtest/gtest.h>

#include <string>

#include "tests/cli/cli_fixture.h"
#include "tests/cli/hostile_inputs.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

namespace fs = std::filesystem;

class InputLimitsTest : public ScratchTest {};

// Frames of each line of folded text, and the line's count.
std::vector<std::pair<std::vector<std::string>, int64_t>> parse(const std::string& folded) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> out;
  std::istringstream lines(folded);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.rfind(' ');
    std::vector<std::string> frames;
    std::string stack = line.substr(0, space);
    size_t start = 0;
    for (size_t semi; (semi = stack.find(';', start)) != std::string::npos; start = semi + 1) {
      frames.push_back(stack.substr(start, semi - start));
    }
    frames.push_back(stack.substr(start));
    out.emplace_back(frames, std::stoll(line.substr(space + 1)));
  }
  return out;
}

TEST_F(InputLimitsTest, TwentyMillionFrameStackIsCutWithANote) {
  // Before the fix: `ember flamegraph` aborted (exit 134) on this 20 KB file.
  std::string deep = path("deep.pb.gz");
  write_deep_stack_pprof(deep, 20'000'000);
  EXPECT_LT(fs::file_size(deep), 64 * 1024);
  const std::string note =
      "ember: " + deep + ": 1 stack deeper than 4096 frames: the middle of each is replaced by one "
      "'[frames elided: stack deeper than the limit]' frame (the deepest had 20000000 frames; "
      "--max-stack-depth raises the limit)\n";
  auto svg = run({EMBER_BIN, "flamegraph", deep, "-o", path("deep.svg")});
  EXPECT_EQ(svg.exit_code, 0);
  EXPECT_EQ(svg.err, note);
  EXPECT_NE(read(path("deep.svg")).find("[frames elided: stack deeper than the limit]"), std::string::npos);
  auto folded = run({EMBER_BIN, "convert", deep, "-o", "-"});
  ASSERT_EQ(folded.exit_code, 0);
  auto stacks = parse(folded.out);
  ASSERT_EQ(stacks.size(), 1u);
  const auto& frames = stacks[0].first;
  ASSERT_EQ(frames.size(), 4096u);
  EXPECT_EQ(frames[0], "recurse");
  EXPECT_EQ(frames[2047], "[frames elided: stack deeper than the limit]");
  EXPECT_EQ(frames[4095], "recurse");
  for (const char* command : {"report", "compare"}) {
    std::vector<std::string> argv{EMBER_BIN, command, deep};
    if (std::string(command) == "compare") argv.push_back(deep);
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
  }
  // Raising the depth keeps more, and the frame limit still bounds the whole.
  auto refused = run({EMBER_BIN, "flamegraph", deep, "-o", path("all.svg"), "--max-stack-depth",
                      "30000000", "--max-frames", "1000000"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err, "ember: " + deep + ": more than 1000000 frames in all stacks (the limit; "
                         "--max-frames raises it)\n");
  EXPECT_FALSE(fs::exists(path("all.svg")));
}

TEST_F(InputLimitsTest, HugeFunctionNameIsRefusedOrCut) {
  // Before the fix: a 900 MB name aborted flamegraph, report and compare.
  std::string huge = path("huge-name.pb.gz");
  write_long_name_pprof(huge, 900'000'000);
  EXPECT_LT(fs::file_size(huge), 4 << 20);
  for (const char* command : {"flamegraph", "report", "compare", "convert", "diff"}) {
    std::vector<std::string> argv{EMBER_BIN, command, huge};
    if (std::string(command) == "compare" || std::string(command) == "diff") argv.push_back(huge);
    if (std::string(command) == "convert") argv.insert(argv.end(), {"-o", path("x.folded")});
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_EQ(r.err, "ember: " + huge + ": decompressed data exceeds the limit of 268435456 bytes "
                     "(a gzip bomb?) (--max-input-bytes raises it)\n")
        << command;
  }
  // A long name within the input limit is cut, ending in "…", and the cut is counted.
  std::string long_name = path("long-name.pb.gz");
  write_long_name_pprof(long_name, 1'000'000);
  auto r = run({EMBER_BIN, "convert", long_name, "-o", "-"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string(4093, 'f') + "… 1\n");
  EXPECT_EQ(r.err, "ember: " + long_name + ": 1 name longer than 4096 bytes cut short, ending in '…' "
                   "(the longest had 1000000 bytes; --max-name-length raises the limit)\n");
  auto raised = run({EMBER_BIN, "convert", long_name, "-o", "-", "--max-name-length", "2M"});
  ASSERT_EQ(raised.exit_code, 0);
  EXPECT_EQ(raised.out, std::string(1'000'000, 'f') + " 1\n");
  EXPECT_EQ(raised.err, "");
}

TEST_F(InputLimitsTest, GzipBombIsRefusedAtTheLimitNotInflatedWhole) {
  // 1 GB of zeros in about 1 MB: refused once the inflated data passes the limit.
  std::string bomb = path("bomb.pb.gz");
  GzipStream gz;
  gz.repeat(std::string(4096, '\0'), 1'000'000'000 / 4096);
  gz.finish(bomb);
  auto r = run({EMBER_BIN, "flamegraph", bomb, "-o", path("bomb.svg"), "--max-input-bytes", "64M"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: " + bomb + ": decompressed data exceeds the limit of 67108864 bytes "
                   "(a gzip bomb?) (--max-input-bytes raises it)\n");
}

TEST_F(InputLimitsTest, EndlessStdinIsRefusedAtTheLimit) {
  // Before the fix: 5 GB of zeros on stdin aborted at 2.1 GB.
  auto r = run({"/bin/sh", "-c", "head -c 5000000000 /dev/zero | " + std::string(EMBER_BIN) +
                                     " flamegraph - -o " + path("stdin.svg")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: stdin: larger than the limit of 268435456 bytes (--max-input-bytes raises it)\n");
}

TEST_F(InputLimitsTest, FlamegraphStaysWithinTheOutputLimit) {
  // 4,000 nested functions with 4,000-byte names: about 70 MB of SVG if drawn whole.
  PprofWriter p;
  p.bytes_field(1, PprofWriter::value_type(1, 2));
  std::vector<uint64_t> stack;
  for (uint64_t id = 1; id <= 4000; ++id) {
    p.bytes_field(4, PprofWriter::location(id, id));
    p.bytes_field(5, PprofWriter::function(id, static_cast<int64_t>(2 + id)));
    stack.push_back(id);
  }
  p.bytes_field(2, PprofWriter::sample(stack, {1}));
  p.bytes_field(6, "");
  p.bytes_field(6, "samples");
  p.bytes_field(6, "count");
  for (uint64_t id = 1; id <= 4000; ++id) p.bytes_field(6, std::string(3990, 'n') + std::to_string(1000000 + id));
  GzipStream gz;
  gz.write(p.bytes());
  std::string wide = path("wide.pb.gz");
  EXPECT_LT(gz.finish(wide), 128 * 1024u);
  auto r = run({EMBER_BIN, "flamegraph", wide, "-o", path("wide.svg"), "--max-output-bytes", "8M"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string svg = read(path("wide.svg"));
  EXPECT_LE(svg.size(), 8u << 20);
  EXPECT_NE(svg.find("frames deeper than level"), std::string::npos);
  EXPECT_NE(svg.find("are not drawn: the SVG would pass the output limit of 8388608 bytes "
                     "(--max-output-bytes raises it)"),
            std::string::npos);
  // Folded text is sized before it is built, and refused past the limit.
  auto folded = run({EMBER_BIN, "convert", wide, "-o", path("wide.folded"), "--max-output-bytes", "8M"});
  EXPECT_EQ(folded.exit_code, 2);
  EXPECT_EQ(folded.err, "ember: the folded stacks would be larger than the limit of 8388608 bytes "
                        "(--max-output-bytes raises it)\n");
  EXPECT_FALSE(fs::exists(path("wide.folded")));
}

TEST_F(InputLimitsTest, CountsThatAddUpPastInt64AreRefused) {
  // Before the fix: `main;a -2`, exit 0, and shares of -461168601842738790400%.
  std::string twice = write("twice.folded", "main;a 9223372036854775807\nmain;a 9223372036854775807\n");
  auto r = run({EMBER_BIN, "convert", twice, "-o", "-"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "ember: " + twice + ":2: the sample counts add up past 9223372036854775807, the "
                   "largest total ember can hold\n");
  // Across files: each fits, the merge does not.
  std::string a = write("a.folded", "main;a 9223372036854775807\n");
  std::string b = write("b.folded", "main;b 1\n");
  auto merged = run({EMBER_BIN, "report", a, b});
  EXPECT_EQ(merged.exit_code, 2);
  EXPECT_EQ(merged.err, "ember: " + b + " merged with the inputs before it: the samples/count values "
                        "add up past 9223372036854775807\n");
  // The same stack in two files: the merge cannot hold its sum (it used to stay at INT64_MAX).
  std::string a2 = write("a2.folded", "main;a 9223372036854775807\n");
  auto same = run({EMBER_BIN, "convert", a, a2, "-o", "-"});
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_EQ(same.out, "");
  EXPECT_EQ(same.err, "ember: " + a2 + ": the values of a 2-frame stack add up past 9223372036854775807 with the "
                      "same stack in the inputs before it\n");
  // At the limit itself, shares stay sane.
  auto one = run({EMBER_BIN, "report", "--json", a});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("\"self_share\": 1.0"), std::string::npos) << one.out;
}

// perf script text that goes wrong part way: one line naming the file and the line, exit 2, for
// every command that reads it (and stdin is named as such).
TEST_F(InputLimitsTest, MalformedPerfScriptTextNamesTheFileAndLine) {
  const std::string text =
      "app 1234/1234 [000] 100.000100:     250000 cpu-clock:u: \n"
      "\t            1190 work+0x20 (/tmp/app)\n"
      "\t            1100 main+0x10 (/tmp/app)\n"
      "\n"
      "app 1234/1234 [000] 100.000350:     250000 cpu-clock:u: \n"
      "\t            1190 work+0x20 (/tmp/app)\n"
      "\tnot a frame at all\n";
  std::string bad = write("bad.perf.txt", text);
  for (const char* command : {"flamegraph", "report", "convert"}) {
    std::vector<std::string> argv{EMBER_BIN, command, bad};
    if (std::string(command) != "report") argv.insert(argv.end(), {"-o", path("out.svg")});
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_EQ(r.err, "ember: " + bad + ":7: not a stack frame (expected 'ADDRESS SYMBOL (DSO)')\n") << command;
  }
  auto piped = run({EMBER_BIN, "flamegraph", "-", "-o", path("piped.svg")}, text);
  EXPECT_EQ(piped.exit_code, 2);
  EXPECT_EQ(piped.err, "ember: stdin:7: not a stack frame (expected 'ADDRESS SYMBOL (DSO)')\n");
}

TEST_F(InputLimitsTest, NegativePprofValuesAreRefusedByIndex) {
  PprofWriter p;
  p.bytes_field(1, PprofWriter::value_type(1, 2));
  p.bytes_field(4, PprofWriter::location(1, 1));
  p.bytes_field(5, PprofWriter::function(1, 3));
  p.bytes_field(2, PprofWriter::sample({1}, {5}));
  p.bytes_field(2, PprofWriter::sample({1}, {-7}));
  for (const char* s : {"", "samples", "count", "main"}) p.bytes_field(6, s);
  std::string negative = write("negative.pb", p.bytes());
  for (const char* command : {"flamegraph", "report", "convert"}) {
    std::vector<std::string> argv{EMBER_BIN, command, negative};
    if (std::string(command) == "convert") argv.insert(argv.end(), {"-o", "-"});
    auto r = run(argv);
    EXPECT_EQ(r.exit_code, 2) << command;
    EXPECT_EQ(r.err, "ember: " + negative + ": sample #2 value #1 (samples/count) is negative: -7\n");
  }
}

TEST_F(InputLimitsTest, PprofValuesThatAddUpPastInt64AreRefusedWithoutALimitHint) {
  PprofWriter p;
  p.bytes_field(1, PprofWriter::value_type(1, 2));
  p.bytes_field(4, PprofWriter::location(1, 1));
  p.bytes_field(5, PprofWriter::function(1, 3));
  p.bytes_field(2, PprofWriter::sample({1}, {INT64_MAX}));
  p.bytes_field(2, PprofWriter::sample({1}, {1}));
  for (const char* s : {"", "samples", "count", "main"}) p.bytes_field(6, s);
  std::string big = write("big.pb", p.bytes());
  auto r = run({EMBER_BIN, "report", big});
  EXPECT_EQ(r.exit_code, 2);
  // No --max-input-bytes hint: no limit of ember's is what refuses it.
  EXPECT_EQ(r.err, "ember: " + big + ": the samples/count values add up past 9223372036854775807 at sample #2\n");
}

}  // namespace
}  // namespace ember::testing
