// The real symbolizer on modules as the collector describes them: file offsets, build-ids, the
// target's mount namespace, held fds, the vdso, caching, and hostile files.

#include "symbolizer/symbolizer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "elf/elf_file.h"
#include "symbolizer/vdso.h"
#include "test_support.h"

namespace ember::symbolizer {
namespace {

using testing::copy_file;
using testing::fixture;
using testing::fixture_source;
using testing::nm_symbols;
using testing::tagged_line;
using testing::TempDir;
using testing::write_text;

common::BuildId build_id_of(const std::string& path) {
  auto file = elf::ElfFile::open_path(path);
  EXPECT_TRUE(file) << file.error().message();
  return file ? file->build_id() : common::BuildId();
}

// The file offset of a symbol, as the collector computes it from a sampled address.
uint64_t file_offset_of(const std::string& path, const std::string& symbol) {
  auto file = elf::ElfFile::open_path(path);
  EXPECT_TRUE(file);
  auto offset = file->to_file_offset(common::ElfAddress(nm_symbols(path).at(symbol).address));
  EXPECT_TRUE(offset);
  return offset ? offset->value() : 0;
}

profile::Module file_module(const std::string& path, bool with_build_id = true) {
  profile::Module m;
  m.kind = profile::MappingKind::kFile;
  m.path = path;
  if (with_build_id) m.build_id = build_id_of(path);
  return m;
}

TEST(Symbolizer, ProgramByFileOffsetWithInlinedFrames) {
  auto symbolizer = make_symbolizer({});
  const std::string path = fixture("cpp_fixture");
  const uint64_t offsets[] = {file_offset_of(path, "ember_marker_inline"),
                              file_offset_of(path, "_ZN5truth6Worker12compute_betaEl")};
  auto symbols = symbolizer->symbolize(file_module(path), offsets);
  ASSERT_EQ(symbols.size(), 2u);
  ASSERT_EQ(symbols[0].frames.size(), 2u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::mix");
  EXPECT_EQ(symbols[0].frames[0].line, tagged_line(fixture_source("cpp_fixture.cpp"), "inline_body"));
  EXPECT_EQ(symbols[0].frames[1].function, "truth::Worker::compute_alpha");
  ASSERT_EQ(symbols[1].frames.size(), 1u);
  EXPECT_EQ(symbols[1].frames[0].function, "truth::Worker::compute_beta");
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.addresses, 2u);
  EXPECT_EQ(stats.resolved, 2u);
  EXPECT_EQ(stats.inline_frames, 1u);
  EXPECT_EQ(stats.binaries_opened, 1u);
  EXPECT_EQ(symbolizer->module_info(file_module(path)).file_size, std::filesystem::file_size(path));
}

TEST(Symbolizer, SharedLibraryByFileOffset) {
  auto symbolizer = make_symbolizer({});
  const std::string path = fixture("libfixture_shared.so");
  const uint64_t offsets[] = {file_offset_of(path, "ember_marker_shared"), file_offset_of(path, "shared_entry")};
  auto symbols = symbolizer->symbolize(file_module(path), offsets);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "shared_helper");
  EXPECT_EQ(symbols[0].frames[0].file, fixture_source("shared_fixture.c"));
  EXPECT_EQ(symbols[0].frames[0].line, tagged_line(fixture_source("shared_fixture.c"), "shared_helper"));
  ASSERT_EQ(symbols[1].frames.size(), 1u);
  EXPECT_EQ(symbols[1].frames[0].function, "shared_entry");
}

TEST(Symbolizer, OffsetOutsideEveryLoadSegmentIsUnknown) {
  auto symbolizer = make_symbolizer({});
  const uint64_t offsets[] = {uint64_t{1} << 40};
  auto symbols = symbolizer->symbolize(file_module(fixture("cpp_fixture")), offsets);
  EXPECT_TRUE(symbols[0].empty());
  EXPECT_EQ(symbolizer->stats().unresolved, 1u);
}

TEST(Symbolizer, OneCacheEntryPerBuildIdSharedByEveryModule) {
  auto symbolizer = make_symbolizer({});
  const std::string path = fixture("cpp_fixture");
  const uint64_t offsets[] = {file_offset_of(path, "_ZN5truth6Worker12compute_betaEl")};
  auto first = symbolizer->symbolize(file_module(path), offsets);
  // Another process maps the same binary under a path that does not exist here.
  profile::Module other = file_module(path);
  other.path = "/nonexistent/elsewhere/cpp_fixture";
  other.pid = 1;
  auto second = symbolizer->symbolize(other, offsets);
  EXPECT_EQ(first, second);
  EXPECT_FALSE(second[0].empty());
  EXPECT_EQ(symbolizer->stats().binaries_opened, 1u);
  EXPECT_EQ(symbolizer->stats().cache_hits, 1u);
}

TEST(Symbolizer, CacheIsBoundedLeastRecentlyUsedFirst) {
  Options options;
  options.max_cached_binaries = 1;
  auto symbolizer = make_symbolizer(options);
  const std::string program = fixture("cpp_fixture");
  const std::string library = fixture("libfixture_shared.so");
  const uint64_t program_offsets[] = {file_offset_of(program, "_ZN5truth6Worker12compute_betaEl")};
  const uint64_t library_offsets[] = {file_offset_of(library, "shared_entry")};
  symbolizer->symbolize(file_module(program), program_offsets);
  symbolizer->symbolize(file_module(library), library_offsets);
  auto again = symbolizer->symbolize(file_module(program), program_offsets);
  EXPECT_EQ(again[0].frames.at(0).function, "truth::Worker::compute_beta");
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.binaries_opened, 3u);
  EXPECT_EQ(stats.cache_evictions, 2u);
  EXPECT_EQ(stats.cache_hits, 0u);
}

TEST(Symbolizer, WrongBuildIdIsNotTrusted) {
  auto symbolizer = make_symbolizer({});
  profile::Module m = file_module(fixture("cpp_fixture"), false);
  m.build_id = build_id_of(fixture("libfixture_shared.so"));
  const uint64_t offsets[] = {file_offset_of(fixture("cpp_fixture"), "_ZN5truth6Worker12compute_betaEl")};
  auto symbols = symbolizer->symbolize(m, offsets);
  EXPECT_TRUE(symbols[0].empty());
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.build_id_mismatches, 1u);
  EXPECT_EQ(stats.binaries_failed, 1u);
  ASSERT_EQ(stats.failures.size(), 1u);
  EXPECT_EQ(stats.failures[0].rfind(fixture("cpp_fixture") + ": build-id ", 0), 0u) << stats.failures[0];
}

TEST(Symbolizer, FileInTheTargetsMountNamespace) {
  TempDir dir;
  copy_file(fixture("cpp_fixture"), dir / "proc/4242/root/opt/app/prog");
  Options options;
  options.proc_root = dir / "proc";
  auto symbolizer = make_symbolizer(options);
  profile::Module m = file_module(fixture("cpp_fixture"));
  m.path = "/opt/app/prog";  // only exists inside the target's root
  m.pid = 4242;
  const uint64_t offsets[] = {file_offset_of(fixture("cpp_fixture"), "_ZN5truth6Worker12compute_betaEl")};
  auto symbols = symbolizer->symbolize(m, offsets);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_beta");
}

TEST(Symbolizer, HeldFileDescriptorOutlivesTheDeletedFile) {
  TempDir dir;
  copy_file(fixture("cpp_fixture"), dir / "prog");
  int fd = ::open((dir / "prog").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  profile::Module m = file_module(dir / "prog");
  m.file = std::make_shared<const common::UniqueFd>(fd);
  m.path += " (deleted)";
  std::filesystem::remove(dir / "prog");
  auto symbolizer = make_symbolizer({});
  const uint64_t offsets[] = {file_offset_of(fixture("cpp_fixture"), "_ZN5truth6Worker12compute_betaEl")};
  auto symbols = symbolizer->symbolize(m, offsets);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_beta");
}

TEST(Symbolizer, AFifoWhereABinaryShouldBeDoesNotHang) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "prog").c_str(), 0600), 0);
  auto symbolizer = make_symbolizer({});
  const uint64_t offsets[] = {0x1000};
  auto symbols = symbolizer->symbolize(file_module(dir / "prog", false), offsets);
  EXPECT_TRUE(symbols[0].empty());
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.binaries_failed, 1u);
  ASSERT_EQ(stats.failures.size(), 1u);
  EXPECT_EQ(stats.failures[0], dir / "prog" + ": not a regular file");

  auto direct = symbolize_file(dir / "prog", std::vector<common::ElfAddress>{common::ElfAddress(0x1000)}, {});
  ASSERT_FALSE(direct);
  EXPECT_EQ(direct.error().message(), dir / "prog" + ": not a regular file");
}

TEST(Symbolizer, GarbageFileIsAClearError) {
  TempDir dir;
  write_text(dir / "garbage", std::string(4096, 'x'));
  auto direct = symbolize_file(dir / "garbage", std::vector<common::ElfAddress>{common::ElfAddress(0)}, {});
  ASSERT_FALSE(direct);
  EXPECT_EQ(direct.error().message(), dir / "garbage" + ": not an ELF file");

  auto symbolizer = make_symbolizer({});
  const uint64_t offsets[] = {0x10};
  EXPECT_TRUE(symbolizer->symbolize(file_module(dir / "garbage", false), offsets)[0].empty());
  EXPECT_EQ(symbolizer->stats().failures.at(0), dir / "garbage" + ": not an ELF file");
}

std::vector<common::ElfAddress> all_function_addresses(const std::string& path) {
  std::vector<common::ElfAddress> out;
  for (const auto& [name, s] : nm_symbols(path)) {
    if ((s.type == 'T' || s.type == 't') && s.size > 0) {
      out.emplace_back(s.address);
      out.emplace_back(s.address + s.size / 2);
    }
  }
  return out;
}

TEST(Symbolizer, TruncatedProgramsAreRefusedOrReadSafely) {
  const std::string source = fixture("cpp_fixture");
  auto addresses = all_function_addresses(source);
  uint64_t size = std::filesystem::file_size(source);
  TempDir dir;
  for (uint64_t length : {uint64_t{0}, uint64_t{16}, uint64_t{64}, uint64_t{1000}, size / 3, size / 2,
                          size - 4096, size - 1}) {
    SCOPED_TRACE(length);
    copy_file(source, dir / "prog");
    std::filesystem::resize_file(dir / "prog", length);
    auto result = symbolize_file(dir / "prog", addresses, {});
    if (!result) {
      EXPECT_EQ(result.error().message().rfind(dir / "prog" + ": ", 0), 0u) << result.error().message();
    } else {
      EXPECT_EQ(result->size(), addresses.size());
    }
  }
}

TEST(Symbolizer, CorruptDwarfNeverCrashesAndKeepsSymbolNames) {
  const std::string source = fixture("cpp_fixture");
  auto addresses = all_function_addresses(source);
  auto intact = symbolize_file(source, addresses, {});
  ASSERT_TRUE(intact);
  auto file = elf::ElfFile::open_path(source);
  ASSERT_TRUE(file);
  TempDir dir;
  for (unsigned seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    copy_file(source, dir / "prog");
    {
      std::fstream out(dir / "prog", std::ios::in | std::ios::out | std::ios::binary);
      std::mt19937 random(seed);
      for (const char* name : {".debug_info", ".debug_abbrev", ".debug_line", ".debug_rnglists",
                               ".debug_str", ".debug_line_str"}) {
        const elf::SectionInfo* section = file->section(name);
        if (section == nullptr || section->size == 0) continue;
        // Overwrite a few runs of bytes with noise, at places the seed picks.
        for (int run = 0; run < 8; ++run) {
          uint64_t at = section->offset + random() % section->size;
          out.seekp(static_cast<std::streamoff>(at));
          for (int i = 0; i < 16 && at + i < section->offset + section->size; ++i) {
            out.put(static_cast<char>(random()));
          }
        }
      }
    }
    auto result = symbolize_file(dir / "prog", addresses, {});
    ASSERT_TRUE(result) << result.error().message();
    for (size_t i = 0; i < addresses.size(); ++i) {
      // The symbol table is intact: the function the code belongs to is still named right.
      ASSERT_FALSE((*result)[i].empty());
      EXPECT_EQ((*result)[i].frames.back().function, (*intact)[i].frames.back().function);
    }
  }
}

TEST(Symbolizer, MalformedLineTableIsReportedOnceAndLookupsGoOn) {
  TempDir dir;
  copy_file(fixture("cpp_fixture"), dir / "prog");
  {
    auto file = elf::ElfFile::open_path(fixture("cpp_fixture"));
    ASSERT_TRUE(file);
    const elf::SectionInfo* line = file->section(".debug_line");
    ASSERT_NE(line, nullptr);
    std::fstream out(dir / "prog", std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(line->offset + 4));  // the first table's version
    out.put(9).put(0);
  }
  // A tiny bound: each unit is dropped when the other is decoded, and decoded again next round.
  Options options;
  options.max_cache_bytes = 1;
  auto symbolizer = make_symbolizer(options);
  profile::Module m = file_module(dir / "prog");
  const uint64_t offsets[] = {file_offset_of(fixture("cpp_fixture"), "_ZN5truth6Worker12compute_betaEl"),
                              file_offset_of(fixture("cpp_fixture"), "_ZN4util14sum_of_squaresEi")};
  for (int round = 0; round < 3; ++round) {
    auto symbols = symbolizer->symbolize(m, offsets);
    ASSERT_EQ(symbols[0].frames.size(), 1u);
    EXPECT_EQ(symbols[0].frames[0].function, "truth::Worker::compute_beta");
    EXPECT_EQ(symbols[0].frames[0].line, 0);  // the unit's lines are unreadable
    ASSERT_FALSE(symbols[1].empty());
    EXPECT_EQ(symbols[1].frames.back().function, "util::sum_of_squares");
    EXPECT_GT(symbols[1].frames[0].line, 0);  // the other unit's are fine
  }
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.dwarf_errors, 1u);
  ASSERT_EQ(stats.failures.size(), 1u);
  EXPECT_EQ(stats.failures[0], dir / "prog" + ": line table at .debug_line+0x0: unsupported version 9");
}

TEST(Symbolizer, VdsoIsReadFromOurOwnMemory) {
  auto vdso = read_own_vdso();
  if (!vdso) GTEST_SKIP() << vdso.error().message();
  TempDir dir;
  auto image = vdso->image();
  write_text(dir / "vdso.so", std::string(reinterpret_cast<const char*>(image.data()), image.size()));
  auto dynamic = nm_symbols(dir / "vdso.so", true);
  ASSERT_TRUE(dynamic.contains("__vdso_clock_gettime"));
  auto offset = vdso->to_file_offset(common::ElfAddress(dynamic.at("__vdso_clock_gettime").address));
  ASSERT_TRUE(offset);

  auto symbolizer = make_symbolizer({});
  profile::Module m;
  m.kind = profile::MappingKind::kVdso;
  m.path = "[vdso]";
  m.build_id = vdso->build_id();
  const uint64_t offsets[] = {offset->value() + 1};
  auto symbols = symbolizer->symbolize(m, offsets);
  ASSERT_FALSE(symbols[0].empty());
  // The global name, not its weak alias "clock_gettime".
  EXPECT_EQ(symbols[0].frames.back().function, "__vdso_clock_gettime");

  m.build_id = common::BuildId(std::string("another kernel"));
  EXPECT_TRUE(symbolizer->symbolize(m, offsets)[0].empty());
  EXPECT_EQ(symbolizer->stats().build_id_mismatches, 1u);
}

TEST(Symbolizer, AnonymousMemoryHasNoNames) {
  auto symbolizer = make_symbolizer({});
  profile::Module m;
  m.kind = profile::MappingKind::kAnonymous;
  const uint64_t offsets[] = {0x7f0000001000, 0x7f0000002000};
  auto symbols = symbolizer->symbolize(m, offsets);
  EXPECT_TRUE(symbols[0].empty() && symbols[1].empty());
  EXPECT_EQ(symbolizer->stats().unresolved, 2u);
}

}  // namespace
}  // namespace ember::symbolizer
