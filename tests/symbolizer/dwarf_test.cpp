// DWARF: lines, inlined frames, options, and golden comparisons with binutils and elfutils.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/regex.h"
#include "symbolizer/dwarf_index.h"
#include "symbolizer/symbolizer.h"
#include "test_support.h"

namespace ember::symbolizer {
namespace {

using testing::fixture;
using testing::fixture_source;
using testing::nm_symbols;
using testing::symbolize;
using testing::tagged_line;

const std::string kSource = fixture_source("cpp_fixture.cpp");

TEST(Dwarf, AlwaysInlineFunctionIsAFrameOfItsOwnWithCallSiteLine) {
  uint64_t marker = nm_symbols(fixture("cpp_fixture")).at("ember_marker_inline").address;
  auto symbols = symbolize(fixture("cpp_fixture"), {marker});
  const auto& frames = symbols[0].frames;
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].function, "truth::mix");
  EXPECT_EQ(frames[0].system_name, "_ZN5truth3mixEi");
  EXPECT_EQ(frames[0].file, kSource);
  EXPECT_EQ(frames[0].line, tagged_line(kSource, "inline_body"));
  EXPECT_EQ(frames[1].function, "truth::Worker::compute_alpha");
  EXPECT_EQ(frames[1].system_name, "_ZNK5truth6Worker13compute_alphaEi");
  EXPECT_EQ(frames[1].file, kSource);
  EXPECT_EQ(frames[1].line, tagged_line(kSource, "inline_call"));
  EXPECT_GT(frames[1].column, 0);  // GCC records the column of the call
}

TEST(Dwarf, NoInlineGivesTheOuterFunctionAtTheCallLine) {
  uint64_t marker = nm_symbols(fixture("cpp_fixture")).at("ember_marker_inline").address;
  Options options;
  options.inline_frames = false;
  auto symbols = symbolize(fixture("cpp_fixture"), {marker}, options);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_alpha");
  EXPECT_EQ(symbols[0].frames[0].line, tagged_line(kSource, "inline_call"));
}

TEST(Dwarf, LineNumbersCanBeLeftOut) {
  uint64_t marker = nm_symbols(fixture("cpp_fixture")).at("ember_marker_inline").address;
  Options options;
  options.line_numbers = false;
  auto symbols = symbolize(fixture("cpp_fixture"), {marker}, options);
  ASSERT_EQ(symbols[0].frames.size(), 2u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::mix");
  for (const auto& f : symbols[0].frames) {
    EXPECT_EQ(f.file, "");
    EXPECT_EQ(f.line, 0);
  }
}

TEST(Dwarf, FullNamesHaveParameterLists) {
  auto nm = nm_symbols(fixture("cpp_fixture"));
  Options full;
  full.full_names = true;
  auto symbols = symbolize(fixture("cpp_fixture"),
                           {nm.at("ember_marker_beta").address, nm.at("_ZN5truth5twiceIlEET_S1_").address,
                            nm.at("_ZZ4mainENKUliE_clEi").address},
                           full);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_beta(long)");
  EXPECT_EQ(symbols[0].frames[0].line, tagged_line(kSource, "beta_body"));
  ASSERT_FALSE(symbols[1].empty());
  EXPECT_EQ(symbols[1].frames.back().function, "long truth::twice<long>(long)");
  ASSERT_FALSE(symbols[2].empty());
  EXPECT_EQ(symbols[2].frames.back().function, "main::{lambda(int)#1}::operator()(int) const");

  symbols = symbolize(fixture("cpp_fixture"),
                      {nm.at("_ZN5truth5twiceIlEET_S1_").address, nm.at("_ZZ4mainENKUliE_clEi").address,
                       nm.at("_ZN12_GLOBAL__N_113hidden_helperEi").address});
  EXPECT_EQ(symbols[0].frames.back().function, "truth::twice<long>");
  EXPECT_EQ(symbols[1].frames.back().function, "main::{lambda(int)#1}::operator()");
  EXPECT_EQ(symbols[2].frames.back().function, "(anonymous namespace)::hidden_helper");
  EXPECT_EQ(symbols[2].frames.back().file, kSource);
}

// addr2line -a -f -i -C output: per address, its line, then "function\nfile:line" per frame.
struct Expected {
  std::string function;
  std::string file;
  int64_t line;
};
std::map<uint64_t, std::vector<Expected>> parse_addr2line(const std::string& text) {
  std::map<uint64_t, std::vector<Expected>> out;
  std::istringstream in(text);
  std::string line;
  std::vector<Expected>* current = nullptr;
  while (std::getline(in, line)) {
    if (line.starts_with("0x")) {
      current = &out[std::stoull(line, nullptr, 16)];
      continue;
    }
    std::string location;
    std::getline(in, location);
    location = common::Regex::compile(" \\(discriminator [0-9]+\\)")->replace_all(location, "");
    auto colon = location.rfind(':');
    std::string file = location.substr(0, colon);
    std::string number = location.substr(colon + 1);
    int64_t n = number == "?" ? 0 : std::stoll(number);
    current->push_back(Expected{line == "??" ? "" : line, file == "??" ? "" : file, n});
  }
  return out;
}

// Code addresses of every function of the fixture: first, middle and last byte.
std::vector<uint64_t> function_addresses(const std::string& path) {
  std::vector<uint64_t> out;
  for (const auto& [name, s] : nm_symbols(path)) {
    if ((s.type != 'T' && s.type != 't') || s.size == 0) continue;
    out.push_back(s.address);
    out.push_back(s.address + s.size / 2);
    out.push_back(s.address + s.size - 1);
  }
  return out;
}

std::string hex_list(const std::vector<uint64_t>& addresses) {
  std::string out;
  char buffer[32];
  for (uint64_t a : addresses) {
    std::snprintf(buffer, sizeof buffer, " 0x%llx", static_cast<unsigned long long>(a));
    out += buffer;
  }
  return out;
}

// binutils and LLVM print compiler clones differently ("f() [clone .cold]", "f() (.cold)").
std::string without_clone(const std::string& name) {
  return common::Regex::compile(" \\[clone [^\\]]*\\]")->replace_all(name, "");
}

void expect_agrees_with_addr2line(const std::string& binary, const std::string& addr2line_binary) {
  auto addresses = function_addresses(addr2line_binary);
  ASSERT_GT(addresses.size(), 20u);
  auto expected =
      parse_addr2line(testing::run("addr2line -a -f -i -C -e '" + addr2line_binary + "'" + hex_list(addresses)));
  ASSERT_EQ(expected.size(), addresses.size());
  Options full;
  full.full_names = true;
  auto got = symbolize(binary, addresses, full);
  size_t with_lines = 0, inlined = 0;
  for (size_t i = 0; i < addresses.size(); ++i) {
    SCOPED_TRACE(hex_list({addresses[i]}));
    const auto& want = expected[addresses[i]];
    const auto& frames = got[i].frames;
    ASSERT_EQ(frames.size(), want.size());
    for (size_t j = 0; j < frames.size(); ++j) {
      EXPECT_EQ(without_clone(frames[j].function), without_clone(want[j].function)) << "frame " << j;
      EXPECT_EQ(frames[j].file, want[j].file) << "frame " << j;
      EXPECT_EQ(frames[j].line, want[j].line) << "frame " << j;
    }
    if (!frames.empty() && frames[0].line > 0) ++with_lines;
    if (frames.size() > 1) ++inlined;
  }
  // The comparison covered real DWARF answers, inlined frames among them.
  EXPECT_GT(with_lines, addresses.size() / 2);
  EXPECT_GT(inlined, 0u);
}

TEST(DwarfGolden, AgreesWithAddr2lineOnEveryFunctionOfTheFixture) {
  expect_agrees_with_addr2line(fixture("cpp_fixture"), fixture("cpp_fixture"));
}

// The same program as DWARF 4, with compressed sections (both kinds), and from clang.
std::vector<std::string> variants() {
  std::vector<std::string> out = {fixture("cpp_fixture_dwarf4"), fixture("cpp_fixture.zdebug"),
                                  fixture("cpp_fixture_dwarf4.zdebug-gnu")};
  if (std::filesystem::exists(fixture("cpp_fixture_clang"))) out.push_back(fixture("cpp_fixture_clang"));
  return out;
}

TEST(DwarfGolden, AgreesWithAddr2lineOnEveryVariantOfTheFixture) {
  for (const auto& path : variants()) {
    SCOPED_TRACE(path);
    expect_agrees_with_addr2line(path, path);

    // And the inlined marker is where the source says.
    uint64_t marker = nm_symbols(path).at("ember_marker_inline").address;
    auto symbols = symbolize(path, {marker});
    ASSERT_EQ(symbols[0].frames.size(), 2u);
    EXPECT_EQ(symbols[0].frames[0].function, "truth::mix");
    EXPECT_EQ(symbols[0].frames[0].line, tagged_line(kSource, "inline_body"));
    EXPECT_EQ(symbols[0].frames[1].function, "truth::Worker::compute_alpha");
    EXPECT_EQ(symbols[0].frames[1].line, tagged_line(kSource, "inline_call"));
  }
  if (!std::filesystem::exists(fixture("cpp_fixture_clang"))) GTEST_SKIP() << "clang is not installed";
}

TEST(DwarfGolden, AgreesWithAddr2lineOnTheSharedLibrary) {
  auto addresses = function_addresses(fixture("libfixture_shared.so"));
  ASSERT_GE(addresses.size(), 6u);
  auto expected = parse_addr2line(testing::run("addr2line -a -f -i -C -e '" +
                                               fixture("libfixture_shared.so") + "'" + hex_list(addresses)));
  auto got = symbolize(fixture("libfixture_shared.so"), addresses);
  for (size_t i = 0; i < addresses.size(); ++i) {
    const auto& want = expected[addresses[i]];
    ASSERT_EQ(got[i].frames.size(), want.size());
    EXPECT_EQ(got[i].frames.back().function, want.back().function);
    EXPECT_EQ(got[i].frames.back().file, want.back().file);
    EXPECT_EQ(got[i].frames[0].line, want[0].line);
  }
}

TEST(DwarfGolden, InnermostLineAgreesWithElfutils) {
  const std::string binary = fixture("cpp_fixture");
  auto addresses = function_addresses(binary);
  std::istringstream in(testing::run("eu-addr2line -e '" + binary + "'" + hex_list(addresses)));
  auto got = symbolize(binary, addresses);
  std::string location;
  size_t compared = 0;
  for (size_t i = 0; i < addresses.size() && std::getline(in, location); ++i) {
    SCOPED_TRACE(hex_list({addresses[i]}) + " " + location);
    // "file:line:column" or "??:0"
    std::vector<std::string> m;
    if (!common::Regex::compile("(.*?):([0-9]+)(:[0-9]+)?")->full_match(location, &m)) continue;
    if (m[1] == "??") {
      EXPECT_TRUE(got[i].empty() || got[i].frames[0].line == 0);
      continue;
    }
    ASSERT_FALSE(got[i].empty());
    EXPECT_EQ(got[i].frames[0].file, m[1]);
    EXPECT_EQ(got[i].frames[0].line, std::stoll(m[2]));
    ++compared;
  }
  EXPECT_GT(compared, addresses.size() / 2);
}

TEST(Dwarf, TinyCacheBoundGivesTheSameAnswers) {
  const std::string binary = fixture("cpp_fixture");
  auto addresses = function_addresses(binary);
  Options tiny;
  tiny.max_cache_bytes = 1;  // every compilation unit decoded is dropped when the next one is
  EXPECT_EQ(symbolize(binary, addresses, tiny), symbolize(binary, addresses));
}

TEST(DwarfIndex, DropsOldestDecodedUnitsBeyondItsBound) {
  auto file = elf::ElfFile::open_path(fixture("cpp_fixture"));
  ASSERT_TRUE(file) << file.error().message();
  DwarfIndex::Settings settings;
  settings.max_bytes = 1;
  auto index = DwarfIndex::open(*file, settings);
  ASSERT_TRUE(index) << index.error().message();
  auto nm = nm_symbols(fixture("cpp_fixture"));
  uint64_t main_unit = nm.at("ember_marker_beta").address;
  uint64_t util_unit = nm.at("_ZN4util14sum_of_squaresEi").address;
  for (int round = 0; round < 2; ++round) {
    std::vector<Frame> frames;
    EXPECT_EQ((*index)->lookup(main_unit, frames), DwarfIndex::Found::kFunctions);
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().function, "truth::Worker::compute_beta");
    frames.clear();
    EXPECT_EQ((*index)->lookup(util_unit, frames), DwarfIndex::Found::kFunctions);
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().function, "util::sum_of_squares");
    EXPECT_EQ((*index)->decoded_units(), 1u);  // the other one was dropped
  }
  EXPECT_GE((*index)->compile_units(), 2u);
}

// ember reads DIE trees itself for speed; libdw's generic walk is the reference it must match,
// here on the fixtures and on this test program (some 20 MB of C++ with DWARF 5).
TEST(DwarfIndex, OwnDieReaderAgreesWithLibdw) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> paths = variants();
  paths.insert(paths.end(), {fixture("cpp_fixture"), fixture("libfixture_shared.so"), self});
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    auto file = elf::ElfFile::open_path(path);
    ASSERT_TRUE(file) << file.error().message();
    DwarfIndex::Settings own, reference;
    reference.libdw_walk = true;
    auto fast = DwarfIndex::open(*file, own);
    auto slow = DwarfIndex::open(*file, reference);
    ASSERT_TRUE(fast && slow);
    auto addresses = function_addresses(path);
    ASSERT_GT(addresses.size(), 5u);
    size_t inlined = 0;
    for (uint64_t address : addresses) {
      std::vector<Frame> a, b;
      auto found_a = (*fast)->lookup(address, a);
      auto found_b = (*slow)->lookup(address, b);
      ASSERT_EQ(found_a, found_b) << hex_list({address});
      ASSERT_EQ(a, b) << hex_list({address});
      if (a.size() > 1) ++inlined;
    }
#ifdef __OPTIMIZE__
    // The comparison covered inlined calls (an -O0 build, as the sanitizer build is, has few).
    if (path == self) {
      EXPECT_GT(inlined, addresses.size() / 10);
    }
#endif
  }
}

TEST(DwarfIndex, NoDebugInfoIsAnError) {
  auto file = elf::ElfFile::open_path(fixture("symtab_fixture"));
  ASSERT_TRUE(file);
  auto index = DwarfIndex::open(*file, {});
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().message(), fixture("symtab_fixture") + ": no DWARF (.debug_info)");
}

}  // namespace
}  // namespace ember::symbolizer
