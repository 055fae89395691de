#include "symbolizer/symbol_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "symbolizer/symbolizer.h"
#include "test_support.h"

namespace ember::symbolizer {
namespace {

using testing::fixture;
using testing::nm_symbols;
using testing::symbolize;

TEST(SymbolTable, ReadsSymtabOfAProgramWithoutDebugInfo) {
  auto file = elf::ElfFile::open_path(fixture("symtab_fixture"));
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_FALSE(file->has_section_data(".debug_info"));
  auto table = SymbolTable::read(*file);
  ASSERT_TRUE(table) << table.error().message();
  EXPECT_EQ(table->source(), SymbolTable::Source::kSymtab);

  auto nm = nm_symbols(fixture("symtab_fixture"));
  const auto& sized = nm.at("sized_fn");
  const ElfSymbol* found = table->find(sized.address);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "sized_fn");  // not its weak or local alias
  EXPECT_EQ(found->start, sized.address);
  EXPECT_EQ(found->end, sized.address + sized.size);
  found = table->find(sized.address + sized.size - 1);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->name, "sized_fn");
}

TEST(SymbolTable, AnAddressPastASizedSymbolIsNotThatSymbol) {
  auto nm = nm_symbols(fixture("symtab_fixture"));
  const auto& sized = nm.at("sized_fn");
  ASSERT_GT(sized.size, 0u);
  auto symbols = symbolize(fixture("symtab_fixture"), {sized.address + sized.size});
  if (!symbols[0].empty()) {
    EXPECT_NE(symbols[0].frames.back().function, "sized_fn");
  }
}

TEST(SymbolTable, SymbolsOfSizeZeroReachToTheNextSymbol) {
  auto nm = nm_symbols(fixture("symtab_fixture"));
  uint64_t a = nm.at("zero_size_a").address;
  uint64_t b = nm.at("zero_size_b").address;
  ASSERT_EQ(nm.at("zero_size_a").size, 0u);
  ASSERT_EQ(b, a + 5);  // four nops and a ret
  auto symbols = symbolize(fixture("symtab_fixture"), {a, a + 3, b});
  ASSERT_FALSE(symbols[0].empty());
  EXPECT_EQ(symbols[0].frames[0].function, "zero_size_a");
  ASSERT_FALSE(symbols[1].empty());
  EXPECT_EQ(symbols[1].frames[0].function, "zero_size_a");
  ASSERT_FALSE(symbols[2].empty());
  EXPECT_EQ(symbols[2].frames[0].function, "zero_size_b");
}

// perf names code that only an untyped label covers (ld.so's _start is one); so does ember. A
// label inside a function with a size does not split that function.
TEST(SymbolTable, LabelsInCodeNameWhatNoFunctionCovers) {
  auto nm = nm_symbols(fixture("symtab_fixture"));
  uint64_t entry = nm.at("untyped_entry").address;
  uint64_t sized = nm.at("sized_asm").address;
  uint64_t inner = nm.at("inner_label").address;
  ASSERT_EQ(inner, sized + 1);
  auto symbols = symbolize(fixture("symtab_fixture"), {entry, entry + 3, inner, inner + 2});
  std::vector<std::string> names;
  for (const Symbol& s : symbols) names.push_back(s.empty() ? "" : s.frames.back().function);
  EXPECT_EQ(names, (std::vector<std::string>{"untyped_entry", "untyped_entry", "sized_asm", "sized_asm"}));
}

// objdump's names for the PLT stubs of `path`: "0000000000001070 <getenv@plt>:" lines.
std::map<uint64_t, std::string> objdump_plt_stubs(const std::string& path, const std::string& section) {
  std::map<uint64_t, std::string> out;
  std::istringstream in(testing::run("objdump -d -j " + section + " '" + path + "' 2>/dev/null"));
  std::string line;
  while (std::getline(in, line)) {
    auto open = line.find(" <");
    if (open == std::string::npos || !line.ends_with(">:")) continue;
    std::string name = line.substr(open + 2, line.size() - open - 4);
    if (!name.ends_with("@plt")) continue;  // the resolver stub is "<first@plt-0x10>"
    out[std::stoull(line.substr(0, open), nullptr, 16)] = name;
  }
  return out;
}

// A sample in a PLT stub names the function it calls, as perf and objdump show it.
TEST(SymbolTable, PltStubsAreNamedAfterTheirTargets) {
  for (auto [binary, section] : {std::pair{"plt_fixture", ".plt"}, std::pair{"plt_fixture_ibt", ".plt.sec"}}) {
    SCOPED_TRACE(binary);
    auto expected = objdump_plt_stubs(fixture(binary), section);
    ASSERT_GE(expected.size(), 3u);  // getenv, puts, strlen (and what the C runtime calls)
    EXPECT_EQ(std::count_if(expected.begin(), expected.end(),
                            [](const auto& e) { return e.second == "getenv@plt" || e.second == "puts@plt" ||
                                                       e.second == "strlen@plt"; }),
              3);
    std::vector<uint64_t> addresses;
    for (const auto& [address, name] : expected) addresses.push_back(address + 4);  // inside the stub
    auto symbols = symbolize(fixture(binary), addresses);
    size_t i = 0;
    for (const auto& [address, name] : expected) {
      ASSERT_FALSE(symbols[i].empty()) << name;
      EXPECT_EQ(symbols[i].frames.back().function, name);
      ++i;
    }
  }
}

TEST(SymbolTable, RustMangledNamesAreDemangledAndKeptMangledAsSystemName) {
  const std::string legacy = "_ZN7mycrate6legacy8function17h0123456789abcdefE";
  const std::string v0 = "_RNvNtCs1234_7mycrate2v08function";
  auto nm = nm_symbols(fixture("symtab_fixture"));
  auto symbols = symbolize(fixture("symtab_fixture"), {nm.at(legacy).address + 1, nm.at(v0).address});
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "mycrate::legacy::function");
  EXPECT_EQ(symbols[0].frames[0].system_name, legacy);
  EXPECT_EQ(symbols[0].frames[0].file, "");  // no DWARF in this fixture
  EXPECT_EQ(symbols[0].frames[0].line, 0);
  ASSERT_EQ(symbols[1].frames.size(), 1u);
  EXPECT_EQ(symbols[1].frames[0].function, "mycrate::v0::function");
  EXPECT_EQ(symbols[1].frames[0].system_name, v0);

  Options raw;
  raw.demangle = false;
  symbols = symbolize(fixture("symtab_fixture"), {nm.at(legacy).address}, raw);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, legacy);
}

TEST(SymbolTable, StrippedProgramFallsBackToDynsym) {
  auto file = elf::ElfFile::open_path(fixture("cpp_fixture.stripped"));
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->section(".symtab"), nullptr);
  auto table = SymbolTable::read(*file);
  ASSERT_TRUE(table) << table.error().message();
  EXPECT_EQ(table->source(), SymbolTable::Source::kDynsym);

  // The exported method is found through .dynsym; the function in an anonymous namespace is not
  // exported and stays unknown.
  auto full = nm_symbols(fixture("cpp_fixture"));
  const auto& alpha = full.at("_ZNK5truth6Worker13compute_alphaEi");
  const auto& hidden = full.at("_ZN12_GLOBAL__N_113hidden_helperEi");
  Options no_debug;
  no_debug.debug_directories = {};
  auto symbols = symbolize(fixture("cpp_fixture.stripped"), {alpha.address + 1, hidden.address}, no_debug);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_alpha");
  EXPECT_EQ(symbols[0].frames[0].system_name, "_ZNK5truth6Worker13compute_alphaEi");
  EXPECT_TRUE(symbols[1].empty());
}

}  // namespace
}  // namespace ember::symbolizer
