// Stripped Go programs: every function named from .gopclntab, as binutils names it in the same
// program built with its symbol table; and hostile tables refused with the file's name.

#include "symbolizer/go_pclntab.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "common/regex.h"
#include "symbolizer/symbolizer.h"
#include "test_support.h"

namespace ember::symbolizer {
namespace {

std::string go_fixture(const std::string& name) {
  return std::string(EMBER_BINARY_DIR) + "/tests/fixtures/go/" + name;
}

#define REQUIRE_GO_FIXTURES()                                                              \
  if (!EMBER_GO_FIXTURES_BUILT) GTEST_SKIP() << "go was not found when configuring: no Go fixtures";

#ifdef EMBER_GO_FIXTURES
constexpr bool EMBER_GO_FIXTURES_BUILT = true;
#else
constexpr bool EMBER_GO_FIXTURES_BUILT = false;
#endif

// nm's name for a Go function, as the runtime names it: no ABI suffix, type arguments of a
// generic function elided ("main.sum[...]"), as Go's own tracebacks print them.
std::string runtime_name(std::string name) {
  if (name.ends_with(".abi0")) name.resize(name.size() - 5);
  static const common::Regex shape = *common::Regex::compile(R"(\[go\.shape\.[^\]]*\])");
  return shape.replace_all(name, "[...]");
}

TEST(GoPclntab, StrippedGoProgramIsNamedLikeItsSymbolTable) {
  REQUIRE_GO_FIXTURES();
  const std::string stripped = go_fixture("go_symbols.stripped");
  auto file = elf::ElfFile::open_path(stripped);
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_EQ(file->section(".symtab"), nullptr) << "the fixture is meant to be stripped";

  auto nm = testing::nm_symbols(go_fixture("go_symbols"));
  std::vector<common::ElfAddress> addresses;
  std::vector<std::string> expected;
  for (const auto& [name, s] : nm) {
    if ((s.type != 'T' && s.type != 't') || name == "runtime.text" || name == "runtime.etext") continue;
    addresses.emplace_back(s.address + (s.size > 1 ? 1 : 0));
    expected.push_back(runtime_name(name));
  }
  ASSERT_GT(addresses.size(), 500u);  // the runtime's functions come along
  auto symbols = symbolize_file(stripped, addresses, {});
  ASSERT_TRUE(symbols) << symbols.error().message();
  size_t same = 0;
  std::vector<std::string> differing;
  for (size_t i = 0; i < addresses.size(); ++i) {
    std::string got = (*symbols)[i].empty() ? "" : (*symbols)[i].frames.back().function;
    if (got == expected[i]) {
      ++same;
    } else if (differing.size() < 10) {
      differing.push_back(expected[i] + " -> " + got);
    }
  }
  // Compiler-generated equality functions of arrays are the only names the runtime shortens.
  EXPECT_GE(same, addresses.size() * 99 / 100) << ::testing::PrintToString(differing);

  std::vector<common::ElfAddress> in_main = {common::ElfAddress(nm.at("main.(*worker).step").address + 2),
                                             common::ElfAddress(nm.at("main.compute").address + 2),
                                             common::ElfAddress(nm.at("main.sum[go.shape.int_0]").address + 2)};
  auto main_functions = symbolize_file(stripped, in_main, {});
  ASSERT_TRUE(main_functions);
  std::vector<std::string> names;
  for (const Symbol& s : *main_functions) names.push_back(s.empty() ? "" : s.frames.back().function);
  EXPECT_EQ(names, (std::vector<std::string>{"main.(*worker).step", "main.compute", "main.sum[...]"}));
}

// A copy of the stripped program with its pclntab damaged in place: a clear error naming the
// file, no crash, and the file still opens (symbols from elsewhere, if any, still work).
TEST(GoPclntab, DamagedTablesAreRefusedByName) {
  REQUIRE_GO_FIXTURES();
  auto image = elf::ElfFile::open_path(go_fixture("go_symbols.stripped"));
  ASSERT_TRUE(image);
  const elf::SectionInfo* section = image->section(".gopclntab");
  ASSERT_NE(section, nullptr);
  std::vector<std::byte> bytes(image->image().begin(), image->image().end());

  struct Damage {
    const char* what;
    std::function<void(std::byte*)> apply;
    const char* message;
  };
  std::vector<Damage> damages = {
      {"unknown magic", [](std::byte* p) { std::memset(p, 0x42, 4); }, "unknown version"},
      {"huge function count", [](std::byte* p) { std::memset(p + 8, 0x7f, 8); }, "function count does not fit"},
      {"functab past the end", [](std::byte* p) { std::memset(p + 8 + 7 * 8, 0x7f, 8); }, "runs past the section"},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.what);
    std::vector<std::byte> copy = bytes;
    d.apply(copy.data() + section->offset);
    auto file = elf::ElfFile::from_image(std::move(copy), "damaged-go");
    ASSERT_TRUE(file) << file.error().message();
    auto functions = read_go_functions(*file);
    ASSERT_FALSE(functions);
    EXPECT_NE(functions.error().message().find("damaged-go: .gopclntab: "), std::string::npos)
        << functions.error().message();
    EXPECT_NE(functions.error().message().find(d.message), std::string::npos) << functions.error().message();
  }
  // Names that point outside the table are skipped, not read past the end.
  std::vector<std::byte> copy = bytes;
  auto file = elf::ElfFile::from_image(std::move(copy), "intact-go");
  ASSERT_TRUE(file);
  auto functions = read_go_functions(*file);
  ASSERT_TRUE(functions) << functions.error().message();
  EXPECT_GT(functions->size(), 500u);
}

}  // namespace
}  // namespace ember::symbolizer
