#include "daemon/snapshot_store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "profiles.h"
#include "test_support.h"

namespace ember::daemon {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

constexpr UnixNanos kT0 = 1'700'000'000 * test::kSecond;

std::shared_ptr<const std::string> snapshot(int32_t pid = 1, int64_t count = 10) {
  return std::make_shared<const std::string>(
      test::make_snapshot_bytes({{pid, "app", {"main", "work"}, count}}));
}

TEST(SnapshotStore, FileNamesRoundTrip) {
  std::string name = SnapshotStore::file_name(kT0 + 123'000'000, kT0 + 60 * test::kSecond);
  EXPECT_EQ(name, "20231114T221320.123Z_20231114T221420.000Z.pb.gz");
  UnixNanos start = 0, end = 0;
  ASSERT_TRUE(SnapshotStore::parse_file_name(name, start, end));
  EXPECT_EQ(start, kT0 + 123'000'000);
  EXPECT_EQ(end, kT0 + 60 * test::kSecond);
  EXPECT_TRUE(SnapshotStore::parse_file_name(SnapshotStore::file_name(kT0, kT0, 3), start, end));
  for (const char* bad : {"x.pb.gz", "20231114T221320.123Z_20231114T222320.000Z.pb", "../20231114T221320.123Z_20231114T222320.000Z.pb.gz",
                          "20231114T221320.123Z_20231114T212320.000Z.pb.gz", "20231314T221320.123Z_20231314T222320.000Z.pb.gz"}) {
    EXPECT_FALSE(SnapshotStore::parse_file_name(bad, start, end)) << bad;
  }
}

TEST(SnapshotStore, OneEmberdPerDirectory) {
  TempDir dir;
  auto first = SnapshotStore::open(dir / "data", {});
  ASSERT_TRUE(first) << first.error().message();
  auto second = SnapshotStore::open(dir / "data", {});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("another emberd"), std::string::npos);
}

TEST(SnapshotStore, WritesListsAndReadsBack) {
  TempDir dir;
  auto store = SnapshotStore::open(dir.path(), {});
  ASSERT_TRUE(store);
  auto data = snapshot();
  std::string a = (*store)->add(kT0, kT0 + 60 * test::kSecond, data);
  std::string b = (*store)->add(kT0 + 60 * test::kSecond, kT0 + 120 * test::kSecond, snapshot(2));
  EXPECT_EQ((*store)->stats().pending, 2u);
  ASSERT_TRUE((*store)->write_pending());
  EXPECT_EQ((*store)->stats().pending, 0u);
  EXPECT_EQ((*store)->stats().writes, 2u);
  EXPECT_EQ(test::list_files(dir.path(), ".pb.gz"), (std::vector<std::string>{a, b}));
  EXPECT_EQ(test::read_text(dir / a), *data);
  // Overlap with [from, to].
  EXPECT_EQ((*store)->list(kT0 + 61 * test::kSecond, kT0 + 200 * test::kSecond).size(), 1u);
  EXPECT_EQ((*store)->list(kT0 - 10 * test::kSecond, kT0 + 200 * test::kSecond).size(), 2u);
  EXPECT_EQ((*store)->list(kT0 + 500 * test::kSecond, kT0 + 600 * test::kSecond).size(), 0u);
  auto listed = (*store)->list(kT0, kT0 + 10 * test::kSecond);
  ASSERT_EQ(listed.size(), 1u);
  auto read = (*store)->read(listed[0]);
  ASSERT_TRUE(read);
  EXPECT_EQ(**read, *data);
  // The same start again gets a name of its own.
  std::string c = (*store)->add(kT0, kT0 + 60 * test::kSecond, snapshot(3));
  EXPECT_NE(c, a);
  ASSERT_TRUE((*store)->write_pending());
  EXPECT_EQ(test::list_files(dir.path(), ".pb.gz").size(), 3u);
}

TEST(SnapshotStore, StartUpRemovesLeftoversAndQuarantinesWhatCannotBeRead) {
  TempDir dir;
  std::string good = SnapshotStore::file_name(kT0, kT0 + 60 * test::kSecond);
  std::string bytes = *snapshot();
  test::write_text(dir / good, bytes);
  std::string truncated = SnapshotStore::file_name(kT0 + 60 * test::kSecond, kT0 + 120 * test::kSecond);
  test::write_text(dir / truncated, bytes.substr(0, bytes.size() / 2));
  std::string garbage = SnapshotStore::file_name(kT0 + 120 * test::kSecond, kT0 + 180 * test::kSecond);
  test::write_text(dir / garbage, "not a snapshot at all");
  std::string empty = SnapshotStore::file_name(kT0 + 180 * test::kSecond, kT0 + 240 * test::kSecond);
  test::write_text(dir / empty, "");
  test::write_text(dir / ("." + good + ".tmp-AbC123"), bytes.substr(0, 10));
  test::write_text(dir / "notes.txt", "someone else's file");

  auto store = SnapshotStore::open(dir.path(), {});
  ASSERT_TRUE(store);
  EXPECT_EQ(test::list_files(dir.path(), ".pb.gz"), (std::vector<std::string>{good}));
  EXPECT_EQ(test::list_files(dir / "quarantine").size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(dir / ("." + good + ".tmp-AbC123")));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.txt"));  // not ours: left alone
  auto s = (*store)->stats();
  EXPECT_EQ(s.snapshots, 1u);
  EXPECT_EQ(s.quarantined, 3u);
  EXPECT_EQ(s.leftovers_removed, 1u);
  EXPECT_EQ((*store)->list(0, INT64_MAX).size(), 1u);
}

TEST(SnapshotStore, RetentionByAgeThenBySizeOldestFirst) {
  TempDir dir;
  StoreLimits limits;
  limits.max_age = 1h;
  auto store = SnapshotStore::open(dir.path(), limits);
  ASSERT_TRUE(store);
  const UnixNanos now = kT0 + 10 * 3600 * test::kSecond;
  std::vector<std::string> names;
  for (int i = 0; i < 6; ++i) {
    // Ages: 5h, 4h, ... 0h before now.
    UnixNanos start = now - (5 - i) * 3600 * test::kSecond - 60 * test::kSecond;
    names.push_back((*store)->add(start, start + 60 * test::kSecond, snapshot(i)));
  }
  ASSERT_TRUE((*store)->write_pending());
  EXPECT_EQ((*store)->apply_retention(now), 4u);
  EXPECT_EQ(test::list_files(dir.path(), ".pb.gz"), (std::vector<std::string>{names[4], names[5]}));

  uint64_t one = (*store)->stats().bytes / 2;
  limits.max_bytes = one + one / 2;  // room for one file, not two
  limits.max_age = 24h;
  (*store)->set_limits(limits);
  EXPECT_EQ((*store)->apply_retention(now), 1u);
  EXPECT_EQ(test::list_files(dir.path(), ".pb.gz"), (std::vector<std::string>{names[5]}));
  EXPECT_EQ((*store)->stats().deleted, 5u);
}

TEST(SnapshotStore, AFailedWriteKeepsTheWindowAndWritesItLater) {
  TempDir dir;
  std::string data_dir = dir / "data";
  auto store = SnapshotStore::open(data_dir, {});
  ASSERT_TRUE(store);
  std::string first = (*store)->add(kT0, kT0 + test::kSecond, snapshot(1));
  ASSERT_TRUE((*store)->write_pending());
  const std::string first_bytes = test::read_text(data_dir + "/" + first);

  // The directory disappears (an operator's mistake, a lost mount): writes fail.
  std::filesystem::rename(data_dir, dir / "moved");
  std::string second = (*store)->add(kT0 + test::kSecond, kT0 + 2 * test::kSecond, snapshot(2));
  EXPECT_FALSE((*store)->write_pending());
  auto s = (*store)->stats();
  EXPECT_TRUE(s.degraded);
  EXPECT_EQ(s.pending, 1u);
  EXPECT_EQ(s.write_failures, 1u);
  // Still answered from memory.
  auto listed = (*store)->list(kT0 + test::kSecond, kT0 + 2 * test::kSecond);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE((*store)->read(listed[1]).has_value());

  std::filesystem::rename(dir / "moved", data_dir);
  ASSERT_TRUE((*store)->write_pending());
  s = (*store)->stats();
  EXPECT_FALSE(s.degraded);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(test::list_files(data_dir, ".pb.gz"), (std::vector<std::string>{first, second}));
  EXPECT_EQ(test::read_text(data_dir + "/" + first), first_bytes);
}

TEST(SnapshotStore, PendingWindowsAreBounded) {
  TempDir dir;
  std::string data_dir = dir / "data";
  StoreLimits limits;
  auto store = SnapshotStore::open(data_dir, limits);
  ASSERT_TRUE(store);
  std::filesystem::rename(data_dir, dir / "moved");
  auto data = snapshot();
  limits.max_pending_bytes = data->size() * 2;
  (*store)->set_limits(limits);
  for (int i = 0; i < 5; ++i) {
    (*store)->add(kT0 + i * test::kSecond, kT0 + (i + 1) * test::kSecond, data);
    (void)(*store)->write_pending();
  }
  auto s = (*store)->stats();
  EXPECT_EQ(s.pending, 2u);
  EXPECT_EQ(s.pending_dropped, 3u);
  // The newest are the ones kept.
  auto kept = (*store)->list(0, INT64_MAX);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].start, kT0 + 3 * test::kSecond);
}

// A real full disk: a 512 KiB tmpfs. Needs CAP_SYS_ADMIN; skipped without it.
TEST(SnapshotStore, DiskFullIsDegradedAndRecoversWithoutDamage) {
  TempDir dir;
  std::string mnt = dir / "mnt";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  {
    auto store = SnapshotStore::open(mnt, {});
    ASSERT_TRUE(store);
    std::string first = (*store)->add(kT0, kT0 + test::kSecond, snapshot(1));
    ASSERT_TRUE((*store)->write_pending());
    const std::string first_bytes = test::read_text(mnt + "/" + first);
    // Fill the disk.
    test::write_text(mnt + "/filler", std::string(600 * 1024, 'x'));
    (*store)->add(kT0 + test::kSecond, kT0 + 2 * test::kSecond, snapshot(2, 1000));
    auto failed = (*store)->write_pending();
    ASSERT_FALSE(failed);
    EXPECT_TRUE(failed.error().sys_errno() == ENOSPC || failed.error().sys_errno() == EDQUOT);
    auto s = (*store)->stats();
    EXPECT_TRUE(s.degraded);
    EXPECT_NE(s.last_error.find("disk full"), std::string::npos) << s.last_error;
    EXPECT_EQ(test::read_text(mnt + "/" + first), first_bytes);
    // No temporary file is left behind to eat the space that returns.
    for (const std::string& f : test::list_files(mnt)) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f;
    std::filesystem::remove(mnt + "/filler");
    ASSERT_TRUE((*store)->write_pending());
    EXPECT_FALSE((*store)->stats().degraded);
    EXPECT_EQ(test::list_files(mnt, ".pb.gz").size(), 2u);
    EXPECT_EQ(test::read_text(mnt + "/" + first), first_bytes);
  }
}

}  // namespace
}  // namespace ember::daemon
