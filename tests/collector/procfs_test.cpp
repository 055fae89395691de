#include "collector/procfs.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace ember::collector {
namespace {

TEST(ParseMapsLine, FileMapping) {
  auto m = parse_maps_line("7f1c2a400000-7f1c2a428000 r-xp 00028000 fd:01 1835030    /usr/lib/x86_64-linux-gnu/libc.so.6\n");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->start, 0x7f1c2a400000u);
  EXPECT_EQ(m->end, 0x7f1c2a428000u);
  EXPECT_TRUE(m->readable);
  EXPECT_FALSE(m->writable);
  EXPECT_TRUE(m->executable);
  EXPECT_FALSE(m->shared);
  EXPECT_EQ(m->page_offset, 0x28000u);
  EXPECT_EQ(m->major, 0xfdu);
  EXPECT_EQ(m->minor, 1u);
  EXPECT_EQ(m->inode, 1835030u);
  EXPECT_EQ(m->path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_FALSE(m->deleted);
}

TEST(ParseMapsLine, PathWithSpacesAndDeletedSuffix) {
  auto m = parse_maps_line("00400000-00401000 r-xp 00000000 08:01 12 /tmp/my dir/app (deleted)");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->path, "/tmp/my dir/app");
  EXPECT_TRUE(m->deleted);
}

TEST(ParseMapsLine, AnonymousAndSpecial) {
  auto anon = parse_maps_line("7f0000000000-7f0000001000 rwxp 00000000 00:00 0 ");
  ASSERT_TRUE(anon.has_value());
  EXPECT_EQ(anon->path, "");
  EXPECT_EQ(anon->inode, 0u);
  auto vdso = parse_maps_line("7ffd5a1f2000-7ffd5a1f4000 r-xp 00000000 00:00 0                          [vdso]");
  ASSERT_TRUE(vdso.has_value());
  EXPECT_EQ(vdso->path, "[vdso]");
}

TEST(ParseMapsLine, RejectsGarbage) {
  EXPECT_FALSE(parse_maps_line("").has_value());
  EXPECT_FALSE(parse_maps_line("hello world").has_value());
  EXPECT_FALSE(parse_maps_line("2000-1000 r-xp 00000000 08:01 1 /x").has_value());  // end < start
  EXPECT_FALSE(parse_maps_line("zz-1000 r-xp 00000000 08:01 1 /x").has_value());
  EXPECT_FALSE(parse_maps_line("1000-2000 r-xp 00000000 0801 1 /x").has_value());
}

TEST(ParseCpuList, RangesAndSingles) {
  EXPECT_EQ(*parse_cpu_list("0-3,5,7-8\n"), (std::vector<int>{0, 1, 2, 3, 5, 7, 8}));
  EXPECT_EQ(*parse_cpu_list("0"), (std::vector<int>{0}));
  EXPECT_FALSE(parse_cpu_list("").has_value());
  EXPECT_FALSE(parse_cpu_list("3-1").has_value());
  EXPECT_EQ(parse_cpu_list("a-b").error().message(), "cannot parse CPU list 'a-b'");
  // Bounded: no list of more CPUs than Linux has, however it is spelled.
  EXPECT_EQ(parse_cpu_list("0-65535")->size(), 65536u);
  EXPECT_FALSE(parse_cpu_list("0-65536").has_value());
  std::string repeated = "0-60000";
  for (int i = 0; i < 5000; ++i) repeated += ",0-60000";
  EXPECT_FALSE(parse_cpu_list(repeated).has_value());
}

TEST(ProcFsReal, ReadsOwnProcess) {
  ProcFs procfs;
  const int32_t self = ::getpid();
  EXPECT_TRUE(procfs.exists(self));
  EXPECT_EQ(procfs.tgid(self), self);
  auto maps = procfs.maps(self);
  ASSERT_TRUE(maps.has_value());
  bool found_exec = false;
  for (const MapsEntry& m : *maps) found_exec = found_exec || (m.executable && !m.path.empty());
  EXPECT_TRUE(found_exec);
  auto threads = procfs.threads(self);
  ASSERT_TRUE(threads.has_value());
  EXPECT_NE(std::find(threads->begin(), threads->end(), self), threads->end());
  EXPECT_FALSE(procfs.comm(self).value_or("").empty());
  EXPECT_FALSE(procfs.exe(self).value_or("").empty());
}

}  // namespace
}  // namespace ember::collector
