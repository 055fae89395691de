// Kernel symbols from kallsyms and JIT symbols from perf maps, through their parsers and through
// the symbolizer (fake /proc trees stand in for the target's mount namespace).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "symbolizer/kallsyms.h"
#include "symbolizer/perf_map.h"
#include "symbolizer/symbolizer.h"
#include "test_support.h"

namespace ember::symbolizer {
namespace {

using testing::copy_file;
using testing::fixture_source;
using testing::TempDir;
using testing::write_text;

std::string name_at(const KernelSymbols& k, uint64_t address) {
  auto found = k.find(address);
  return found ? std::string(found->name) : "";
}

TEST(Kallsyms, TextSymbolsOfKernelAndModules) {
  auto k = KernelSymbols::load(fixture_source("kallsyms.txt"), 1 << 20);
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->malformed_lines(), 2u);
  // "_stext" and "startup_64" share an address: the name without underscore.
  EXPECT_EQ(name_at(*k, 0xffffffff81000000), "startup_64");
  EXPECT_EQ(name_at(*k, 0xffffffff81000010), "startup_64");
  EXPECT_EQ(name_at(*k, 0xffffffff81000070), "secondary_startup_64");
  EXPECT_EQ(name_at(*k, 0xffffffff81001000), "do_one_initcall");
  // A data symbol does not end the text symbol before it.
  EXPECT_EQ(name_at(*k, 0xffffffff81001250), "__x64_sys_read");
  EXPECT_EQ(name_at(*k, 0xffffffff81001300), "weak_text_fn");
  EXPECT_EQ(name_at(*k, 0xffffffff80000000), "");
  auto module = k->find(0xffffffffc0a00100);
  ASSERT_TRUE(module);
  EXPECT_EQ(module->name, "nft_do_chain");
  EXPECT_EQ(module->module, "nf_tables");
  EXPECT_EQ(name_at(*k, 0xffffffffc0a00210), "nft_lookup_eval");
  // The last symbol of a module does not reach into the gap after it.
  EXPECT_EQ(name_at(*k, 0xffffffffc0a80000), "");
  EXPECT_EQ(name_at(*k, 0xffffffffc0b00004), "ext4_readpage");
  EXPECT_EQ(k->find(0xffffffffc0b00004)->module, "ext4");
}

TEST(Kallsyms, HiddenAddressesAreAClearError) {
  auto k = KernelSymbols::parse("0000000000000000 T _stext\n0000000000000000 t foo\t[bar]\n", "/proc/kallsyms");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(k.error().message().rfind("/proc/kallsyms: all addresses are zero", 0), 0u);
}

TEST(Kallsyms, SymbolizerNamesKernelFrames) {
  Options options;
  options.kallsyms_path = fixture_source("kallsyms.txt");
  auto symbolizer = make_symbolizer(options);
  profile::Module kernel;
  kernel.kind = profile::MappingKind::kKernel;
  kernel.path = "[kernel.kallsyms]";
  const uint64_t offsets[] = {0xffffffff81001104, 0xffffffffc0a00004, 0x1000};
  auto symbols = symbolizer->symbolize(kernel, offsets);
  ASSERT_EQ(symbols.size(), 3u);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "__x64_sys_read");
  EXPECT_EQ(symbols[0].frames[0].system_name, "__x64_sys_read");
  EXPECT_EQ(symbols[1].frames[0].function, "nft_do_chain");
  EXPECT_TRUE(symbols[2].empty());
  Stats stats = symbolizer->stats();
  EXPECT_EQ(stats.kernel_symbols, 9u);  // t, T, w, W only; aliases at one address once
  EXPECT_EQ(stats.resolved, 2u);
  EXPECT_EQ(stats.unresolved, 1u);
}

TEST(Kallsyms, AFifoIsRefusedWithoutHanging) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "kallsyms").c_str(), 0600), 0);
  Options options;
  options.kallsyms_path = dir / "kallsyms";
  auto symbolizer = make_symbolizer(options);
  profile::Module kernel;
  kernel.kind = profile::MappingKind::kKernel;
  const uint64_t offsets[] = {0xffffffff81001104};
  auto symbols = symbolizer->symbolize(kernel, offsets);
  EXPECT_TRUE(symbols[0].empty());
  ASSERT_EQ(symbolizer->stats().failures.size(), 1u);
  EXPECT_EQ(symbolizer->stats().failures[0], dir / "kallsyms" + ": not a regular file");
}

std::string jit_name(const PerfMap& map, uint64_t address) {
  auto name = map.find(address);
  return name ? std::string(*name) : "";
}

TEST(PerfMap, ParsesNodeStyleLinesAndCountsMalformedOnes) {
  auto map = PerfMap::load(fixture_source("perf-jit.map"), 1 << 20);
  ASSERT_TRUE(map) << map.error().message();
  EXPECT_EQ(map->malformed_lines(), 4u);
  EXPECT_EQ(jit_name(*map, 0x3ef414c0), "LazyCompile:~main /app/index.js:1:1");
  EXPECT_EQ(jit_name(*map, 0x3ef416ff), "LazyCompile:~main /app/index.js:1:1");
  EXPECT_EQ(jit_name(*map, 0x3ef41700), "Builtin:ArgumentsAdaptorTrampoline");
  EXPECT_EQ(jit_name(*map, 0x3ef41740), "");  // past its 0x40 bytes
  EXPECT_EQ(jit_name(*map, 0x3ef41880), "LazyCompile:*hot /app/index.js:10:3");  // 0x-prefixed
  EXPECT_EQ(jit_name(*map, 0x3ef41b00), "");  // size 0
  // A later entry replaces the earlier one where they overlap, and only there.
  EXPECT_EQ(jit_name(*map, 0x3ef41c10), "Function:old_code");
  EXPECT_EQ(jit_name(*map, 0x3ef41c50), "Function:new_code_over_old");
  EXPECT_EQ(jit_name(*map, 0x3ef41c70), "Function:old_code");
  EXPECT_EQ(jit_name(*map, 0x3ef41d00), "");
}

TEST(PerfMap, OverlapsResolveInFileOrder) {
  auto map = PerfMap::parse("1000 100 a\n1080 100 b\n1000 10 c\n1090 10 d\n");
  EXPECT_EQ(jit_name(map, 0x1000), "c");
  EXPECT_EQ(jit_name(map, 0x1010), "a");
  EXPECT_EQ(jit_name(map, 0x1080), "b");
  EXPECT_EQ(jit_name(map, 0x1095), "d");
  EXPECT_EQ(jit_name(map, 0x10a0), "b");
  EXPECT_EQ(jit_name(map, 0x1170), "b");
  EXPECT_EQ(jit_name(map, 0x1180), "");
  EXPECT_EQ(map.size(), 5u);  // c, a, b, d, b
}

TEST(PerfMap, RefusesFifosSymlinksForeignOwnersAndOversizedFiles) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo.map").c_str(), 0600), 0);
  auto fifo = PerfMap::load(dir / "fifo.map", 1 << 20);
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().message(), dir / "fifo.map" + ": not a regular file");

  std::filesystem::create_symlink("/etc/passwd", dir / "link.map");
  auto link = PerfMap::load(dir / "link.map", 1 << 20);
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().message(), dir / "link.map" + ": is a symbolic link");

  copy_file(fixture_source("perf-jit.map"), dir / "foreign.map");
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown((dir / "foreign.map").c_str(), 12345, 12345), 0);
    auto foreign = PerfMap::load(dir / "foreign.map", 1 << 20, uid_t{4242});
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_TRUE(PerfMap::load(dir / "foreign.map", 1 << 20, uid_t{12345}));
  }

  auto big = PerfMap::load(fixture_source("perf-jit.map"), 16);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);
}

// A fake /proc with one process whose /tmp holds its perf map.
struct FakeProc {
  TempDir dir;
  std::string proc_root() const { return dir / "proc"; }
  std::string map_path(int pid, int name_pid) const {
    return dir / ("proc/" + std::to_string(pid) + "/root/tmp/perf-" + std::to_string(name_pid) + ".map");
  }
};

profile::Module jit_module(int pid) {
  profile::Module m;
  m.kind = profile::MappingKind::kJit;
  m.path = "[anon:jit]";
  m.pid = pid;
  return m;
}

TEST(PerfMap, SymbolizerReadsTheMapInTheTargetsRootAndReloadsWhenItGrows) {
  FakeProc proc;
  copy_file(fixture_source("perf-jit.map"), proc.map_path(4242, 4242));
  Options options;
  options.proc_root = proc.proc_root();
  auto symbolizer = make_symbolizer(options);
  const uint64_t offsets[] = {0x3ef41500, 0x5000};
  auto symbols = symbolizer->symbolize(jit_module(4242), offsets);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "LazyCompile:~main /app/index.js:1:1");
  EXPECT_TRUE(symbols[1].empty());
  EXPECT_EQ(symbolizer->stats().perf_maps_loaded, 1u);
  EXPECT_EQ(symbolizer->stats().perf_map_malformed_lines, 4u);

  // Unchanged: not read again.
  symbolizer->symbolize(jit_module(4242), offsets);
  EXPECT_EQ(symbolizer->stats().perf_maps_loaded, 1u);

  // The JIT compiled more code: the map is read again.
  std::ofstream(proc.map_path(4242, 4242), std::ios::app) << "5000 10 LazyCompile:late\n";
  symbols = symbolizer->symbolize(jit_module(4242), offsets);
  ASSERT_EQ(symbols[1].frames.size(), 1u);
  EXPECT_EQ(symbols[1].frames[0].function, "LazyCompile:late");
  EXPECT_EQ(symbolizer->stats().perf_maps_loaded, 2u);

  // The process exited and its map went with it: what was read still names its code.
  std::filesystem::remove_all(proc.dir / "proc/4242");
  symbols = symbolizer->symbolize(jit_module(4242), offsets);
  EXPECT_EQ(symbols[1].frames[0].function, "LazyCompile:late");
}

TEST(PerfMap, ProcessInAPidNamespaceNamesItsMapWithItsOwnPid) {
  FakeProc proc;
  copy_file(fixture_source("perf-jit.map"), proc.map_path(4243, 7));
  write_text(proc.dir / "proc/4243/status", "Name:\tnode\nNSpid:\t4243\t7\nPPid:\t1\n");
  Options options;
  options.proc_root = proc.proc_root();
  auto symbolizer = make_symbolizer(options);
  const uint64_t offsets[] = {0x3ef41700};
  auto symbols = symbolizer->symbolize(jit_module(4243), offsets);
  ASSERT_EQ(symbols[0].frames.size(), 1u);
  EXPECT_EQ(symbols[0].frames[0].function, "Builtin:ArgumentsAdaptorTrampoline");
}

TEST(PerfMap, MissingMapIsCountedNotFatal) {
  FakeProc proc;
  Options options;
  options.proc_root = proc.proc_root();
  auto symbolizer = make_symbolizer(options);
  const uint64_t offsets[] = {0x3ef41700};
  auto symbols = symbolizer->symbolize(jit_module(999999), offsets);
  EXPECT_TRUE(symbols[0].empty());
  EXPECT_EQ(symbolizer->stats().unresolved, 1u);
  ASSERT_EQ(symbolizer->stats().failures.size(), 1u);
  EXPECT_EQ(symbolizer->stats().failures[0], "/tmp/perf-999999.map: no perf map for JIT code");
}

}  // namespace
}  // namespace ember::symbolizer
