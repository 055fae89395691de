// Separate debug files: .gnu_debuglink (with its CRC) in the three usual places, and
// <debugdir>/.build-id/xx/rest.debug.

#include "symbolizer/debug_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "elf/elf_file.h"
#include "symbolizer/debuginfod_client.h"
#include "symbolizer/symbolizer.h"
#include "test_support.h"
#include "tests/support/debuginfod_server.h"

namespace ember::symbolizer {
namespace {

using testing::copy_file;
using ::ember::testing::DebuginfodServer;
using testing::fixture;
using testing::fixture_source;
using testing::nm_symbols;
using testing::tagged_line;
using testing::TempDir;

struct Addresses {
  uint64_t inline_marker;
  uint64_t hidden;  // a local function: only in .symtab
};

Addresses addresses() {
  auto nm = nm_symbols(fixture("cpp_fixture"));
  return {nm.at("ember_marker_inline").address, nm.at("_ZN12_GLOBAL__N_113hidden_helperEi").address};
}

std::vector<Symbol> symbolize_markers(const std::string& path, const Options& options) {
  Addresses a = addresses();
  std::vector<common::ElfAddress> list = {common::ElfAddress(a.inline_marker), common::ElfAddress(a.hidden)};
  auto out = symbolize_file(path, list, options);
  EXPECT_TRUE(out) << (out ? "" : out.error().message());
  return out ? *out : std::vector<Symbol>(2);
}

Options without_system_debug_dirs() {
  Options options;
  options.debug_directories = {};
  return options;
}

// With the debug file found: inlined frames with lines, and the local function by name.
void expect_full_debug_info(const std::vector<Symbol>& symbols) {
  const std::string source = fixture_source("cpp_fixture.cpp");
  ASSERT_EQ(symbols[0].frames.size(), 2u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::mix");
  EXPECT_EQ(symbols[0].frames[0].line, tagged_line(source, "inline_body"));
  EXPECT_EQ(symbols[0].frames[1].function, "truth::Worker::compute_alpha");
  EXPECT_EQ(symbols[0].frames[1].line, tagged_line(source, "inline_call"));
  ASSERT_EQ(symbols[1].frames.size(), 1u);
  EXPECT_EQ(symbols[1].frames[0].function, "(anonymous namespace)::hidden_helper");
  EXPECT_EQ(symbols[1].frames[0].file, source);
}

// Without it: only what .dynsym exports, no lines.
void expect_dynsym_only(const std::vector<Symbol>& symbols) {
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_alpha");
  EXPECT_EQ(symbols[0].frames[0].line, 0);
  EXPECT_TRUE(symbols[1].empty());
}

TEST(DebugFile, DebuglinkInTheSameDirectory) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debuglink"), dir / "bin/prog");
  copy_file(fixture("cpp_fixture.debug"), dir / "bin/cpp_fixture.debug");
  expect_full_debug_info(symbolize_markers(dir / "bin/prog", without_system_debug_dirs()));
}

TEST(DebugFile, DebuglinkInDotDebugSubdirectory) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debuglink"), dir / "bin/prog");
  copy_file(fixture("cpp_fixture.debug"), dir / "bin/.debug/cpp_fixture.debug");
  expect_full_debug_info(symbolize_markers(dir / "bin/prog", without_system_debug_dirs()));
}

TEST(DebugFile, DebuglinkUnderADebugDirectory) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debuglink"), dir / "bin/prog");
  copy_file(fixture("cpp_fixture.debug"), dir / ("debug" + (dir / "bin") + "/cpp_fixture.debug"));
  Options options;
  options.debug_directories = {dir / "debug"};
  expect_full_debug_info(symbolize_markers(dir / "bin/prog", options));
}

TEST(DebugFile, DebuglinkWithTheWrongCrcIsRejected) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debuglink"), dir / "bin/prog");
  // An ELF file of the right name that is not the right debug file.
  copy_file(fixture("symtab_fixture"), dir / "bin/cpp_fixture.debug");
  expect_dynsym_only(symbolize_markers(dir / "bin/prog", without_system_debug_dirs()));

  auto file = elf::ElfFile::open_path(dir / "bin/prog");
  ASSERT_TRUE(file);
  DebugFileSearch search;
  DebugFileCounters counters;
  EXPECT_FALSE(find_debug_file(*file, dir / "bin/prog", search, counters));
  EXPECT_EQ(counters.rejected, 1u);
}

TEST(DebugFile, BuildIdDirectory) {
  auto build_id = elf::ElfFile::open_path(fixture("cpp_fixture.stripped"))->build_id().hex();
  ASSERT_GT(build_id.size(), 2u);
  TempDir dir;
  copy_file(fixture("cpp_fixture.debug"),
            dir / ("debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug"));
  Options options;
  options.debug_directories = {dir / "nonexistent", dir / "debug"};
  expect_full_debug_info(symbolize_markers(fixture("cpp_fixture.stripped"), options));
  // Without the directory, the stripped file has its exports only.
  expect_dynsym_only(symbolize_markers(fixture("cpp_fixture.stripped"), without_system_debug_dirs()));
}

TEST(DebugFile, BuildIdDirectoryWithAnotherBinarysDebugFileIsRejected) {
  auto build_id = elf::ElfFile::open_path(fixture("cpp_fixture.stripped"))->build_id().hex();
  TempDir dir;
  copy_file(fixture("libfixture_shared.so"),
            dir / ("debug/.build-id/" + build_id.substr(0, 2) + "/" + build_id.substr(2) + ".debug"));
  Options options;
  options.debug_directories = {dir / "debug"};
  expect_dynsym_only(symbolize_markers(fixture("cpp_fixture.stripped"), options));
}

TEST(DebugFile, CrcIsZlibCrc32) {
  const std::string text = "123456789";
  // The check value of CRC-32 (ISO-HDLC), as zlib and .gnu_debuglink use it.
  EXPECT_EQ(debuglink_crc(std::as_bytes(std::span(text.data(), text.size()))), 0xCBF43926u);
  auto debuglink = elf::ElfFile::open_path(fixture("cpp_fixture.debuglink"));
  auto debug = elf::ElfFile::open_path(fixture("cpp_fixture.debug"));
  ASSERT_TRUE(debuglink && debug);
  auto link = debuglink->debug_link();
  ASSERT_TRUE(link);
  EXPECT_EQ(link->file, "cpp_fixture.debug");
  EXPECT_EQ(link->crc, debuglink_crc(debug->image()));
}

std::shared_ptr<DebuginfodClient> debuginfod_client(const std::string& url, const std::string& cache,
                                                    uint64_t max_cache_bytes = uint64_t{1} << 30) {
  DebuginfodSettings settings;
  settings.urls = {url};
  settings.cache_dir = cache;
  settings.timeout = std::chrono::seconds(5);
  settings.max_cache_bytes = max_cache_bytes;
  auto client = DebuginfodClient::create(settings);
  EXPECT_TRUE(client) << client.error().message();
  return client ? std::shared_ptr<DebuginfodClient>(std::move(*client)) : nullptr;
}

std::string build_id_of(const std::string& path) { return elf::ElfFile::open_path(path)->build_id().hex(); }

TEST(Debuginfod, NamesAStrippedBinaryFromARealServer) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debug"), dir / "served/cpp_fixture.debug");
  copy_file(fixture("cpp_fixture_dwarf4"), dir / "served/cpp_fixture_dwarf4");
  DebuginfodServer server(dir / "served", dir / "db.sqlite", build_id_of(fixture("cpp_fixture.stripped")));
  Options options = without_system_debug_dirs();
  options.debuginfod = debuginfod_client(server.url(), dir / "cache");
  ASSERT_TRUE(options.debuginfod);
  expect_full_debug_info(symbolize_markers(fixture("cpp_fixture.stripped"), options));
  auto s = options.debuginfod->stats();
  EXPECT_EQ(s.fetched, 1u);
  EXPECT_EQ(s.failed, 0u);
  // The debug file is in the cache, where libdebuginfod keeps it by build-id.
  const std::string cached = dir / ("cache/" + build_id_of(fixture("cpp_fixture.stripped")) + "/debuginfo");
  ASSERT_TRUE(std::filesystem::exists(cached));
  EXPECT_EQ(std::filesystem::file_size(cached), std::filesystem::file_size(fixture("cpp_fixture.debug")));
  // A build-id no server has is asked once, then remembered as missing.
  auto other = elf::ElfFile::open_path(fixture("symtab_fixture"));
  ASSERT_TRUE(other);
  if (!other->build_id().empty()) {
    EXPECT_FALSE(options.debuginfod->find_debuginfo(other->build_id()));
    EXPECT_FALSE(options.debuginfod->find_debuginfo(other->build_id()));
    EXPECT_EQ(options.debuginfod->stats().missing, 1u);
    EXPECT_EQ(options.debuginfod->stats().skipped, 1u);
  }
  // Off: the exports only.
  expect_dynsym_only(symbolize_markers(fixture("cpp_fixture.stripped"), without_system_debug_dirs()));
}

TEST(Debuginfod, TheCacheStaysUnderItsBound) {
  TempDir dir;
  copy_file(fixture("cpp_fixture.debug"), dir / "served/cpp_fixture.debug");
  copy_file(fixture("cpp_fixture_dwarf4"), dir / "served/cpp_fixture_dwarf4");
  const std::string first = build_id_of(fixture("cpp_fixture.stripped"));
  const std::string second = build_id_of(fixture("cpp_fixture_dwarf4"));
  DebuginfodServer server(dir / "served", dir / "db.sqlite", second);
  // Room for one debug file: fetching the second evicts the first.
  auto client = debuginfod_client(server.url(), dir / "cache",
                                  std::filesystem::file_size(fixture("cpp_fixture_dwarf4")) + 1024);
  ASSERT_TRUE(client);
  auto a = client->find_debuginfo(common::BuildId::from_hex(first));
  ASSERT_TRUE(a);
  auto b = client->find_debuginfo(common::BuildId::from_hex(second));
  ASSERT_TRUE(b);
  EXPECT_TRUE(std::filesystem::exists(*b));
  EXPECT_FALSE(std::filesystem::exists(*a));
  EXPECT_GE(client->stats().evicted, 1u);
}

TEST(Debuginfod, AStoppedServerLeavesTheLocalNamesAndSaysWhy) {
  TempDir dir;
  std::string url;
  {
    copy_file(fixture("cpp_fixture.debug"), dir / "served/cpp_fixture.debug");
    DebuginfodServer server(dir / "served", dir / "db.sqlite", build_id_of(fixture("cpp_fixture.stripped")));
    url = server.url();
  }
  Options options = without_system_debug_dirs();
  options.debuginfod = debuginfod_client(url, dir / "cache");
  ASSERT_TRUE(options.debuginfod);
  expect_dynsym_only(symbolize_markers(fixture("cpp_fixture.stripped"), options));
  auto s = options.debuginfod->stats();
  EXPECT_EQ(s.fetched, 0u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_NE(s.last_error.find("127.0.0.1"), std::string::npos) << s.last_error;
}

TEST(Debuginfod, RefusesUrlsThatAreNotHttp) {
  DebuginfodSettings settings;
  settings.urls = {"ftp://debuginfod.example"};
  auto client = DebuginfodClient::create(settings);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().message(), "debuginfod: 'ftp://debuginfod.example' is not an http:// or https:// URL");
}

}  // namespace
}  // namespace ember::symbolizer
