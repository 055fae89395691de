// `ember symbolize` on damaged binaries: the damage is named, and "??" for every address is a
// failure, not an answer (issue 16, finding 7).

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <sstream>
#include <string>

#include "tests/cli/cli_fixture.h"
#include "tests/support/process.h"

namespace ember::testing {
namespace {

class SymbolizeDamageTest : public ScratchTest {
 protected:
  std::string address_of(const std::string& function) {
    auto nm = run({"/usr/bin/nm", "-C", SEVENTY_THIRTY_BIN});
    std::istringstream lines(nm.out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find(" " + function + "(") != std::string::npos) return "0x" + line.substr(0, 16);
    }
    ADD_FAILURE() << function << " not in nm's output";
    return "";
  }
  // A copy of the 70/30 program with garbage in place of `section` (0xff bytes, or noise when
  // `noise`); without its symbol table too when `strip`.
  std::string damaged(const std::string& name, bool strip, bool noise = false,
                      const std::string& section = ".debug_info") {
    std::string copy = path(name);
    std::filesystem::copy_file(SEVENTY_THIRTY_BIN, copy);
    if (strip) EXPECT_EQ(run({"/usr/bin/strip", "--strip-all", "--keep-section=.debug_*", copy}).exit_code, 0);
    std::string bytes(3000, '\xff');
    std::mt19937 random(7);
    if (noise) {
      for (char& c : bytes) c = static_cast<char>(random());
    }
    std::string garbage = write("garbage.bin", bytes);
    EXPECT_EQ(run({"/usr/bin/objcopy", "--update-section", section + "=" + garbage, copy}).exit_code, 0);
    return copy;
  }
};

TEST_F(SymbolizeDamageTest, NothingSymbolizedIsAFailureThatNamesTheDamage) {
  std::string address = address_of("truth::Worker::compute_beta");
  for (bool noise : {false, true}) {
    std::string prog = damaged(noise ? "stripped-noise" : "stripped-garbage", true, noise);
    // Before the fix: "??" and exit 0, not a word on stderr.
    auto r = run({EMBER_BIN, "symbolize", "-e", prog, address});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "??\n??:0:0\n\n");
    std::regex expected("ember: " + prog + ": \\.debug_info: [^\n]*unreadable[^\n]*\nember: " + prog +
                        ": none of the 1 address could be symbolized\n");
    EXPECT_TRUE(std::regex_match(r.err, expected)) << r.err;
  }
}

TEST_F(SymbolizeDamageTest, DamagedDwarfIsNamedWhileSymbolsStillAnswer) {
  std::string address = address_of("truth::Worker::compute_beta");
  for (bool noise : {false, true}) {
    std::string prog = damaged(noise ? "noise" : "garbage", false, noise);
    auto r = run({EMBER_BIN, "symbolize", "-e", prog, address});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "truth::Worker::compute_beta\n??:0:0\n\n");
    std::regex expected("ember: " + prog + ": \\.debug_info: [^\n]*unreadable[^\n]*\n");
    EXPECT_TRUE(std::regex_match(r.err, expected)) << r.err;
  }
}

TEST_F(SymbolizeDamageTest, DamagedAbbreviationsAreNamedToo) {
  // Before the fix: a .debug_abbrev of garbage gave "??:0:0", exit 0, nothing on stderr (every
  // unit's first DIE was read, its tag was not, and the unit was skipped as a type unit).
  std::string address = address_of("truth::Worker::compute_beta");
  for (bool noise : {false, true}) {
    std::string prog = damaged(noise ? "abbrev-noise" : "abbrev-garbage", false, noise, ".debug_abbrev");
    auto r = run({EMBER_BIN, "symbolize", "-e", prog, address});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "truth::Worker::compute_beta\n??:0:0\n\n");
    std::regex expected("ember: " + prog + ": \\.debug_info: [^\n]*unreadable[^\n]*\n");
    EXPECT_TRUE(std::regex_match(r.err, expected)) << r.err;
  }
}

TEST_F(SymbolizeDamageTest, HugeBadAddressIsNotEchoedWhole) {
  std::string huge = std::string(10 << 20, '7') + "g";
  auto r = run({EMBER_BIN, "symbolize", "-e", SEVENTY_THIRTY_BIN}, huge);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ember: '" + std::string(80, '7') + "… (10485761 bytes)' is not a hexadecimal address\n");
}

TEST_F(SymbolizeDamageTest, AHugeFileNameIsNotEchoedWhole) {
  // Any message is one bounded line: a 120 KB name was printed whole.
  const std::string name = "/nonexistent/" + std::string(120'000, 'n');
  auto r = run({EMBER_BIN, "report", name});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_LT(r.err.size(), 4200u);
  EXPECT_EQ(r.err.rfind("ember: /nonexistent/nnn", 0), 0u) << r.err.substr(0, 200);
  EXPECT_NE(r.err.find(" bytes)\n"), std::string::npos) << r.err.substr(r.err.size() - 200);
}

}  // namespace
}  // namespace ember::testing
