#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ember::common {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ember-files-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FilesTest, ReadFileReturnsContents) {
  auto path = (dir_ / "a.txt").string();
  std::ofstream(path) << "hello";
  auto r = read_file(path, 100);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "hello");
}

TEST_F(FilesTest, ReadFileRefusesLargerThanLimit) {
  auto path = (dir_ / "big.txt").string();
  std::ofstream(path) << std::string(1000, 'x');
  auto r = read_file(path, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.error().message().find(path), std::string::npos);
}

TEST_F(FilesTest, FifoIsRefusedWithoutBlocking) {
  auto path = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  auto r = open_regular_file(path);  // would block forever without O_NONBLOCK
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), path + ": not a regular file");
}

TEST_F(FilesTest, MissingFileNamesPath) {
  auto r = read_file((dir_ / "nope").string(), 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), (dir_ / "nope").string() + ": No such file or directory");
}

TEST_F(FilesTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  auto path = (dir_ / "out.svg").string();
  ASSERT_TRUE(write_file_atomic(path, "one"));
  ASSERT_TRUE(write_file_atomic(path, "two"));
  EXPECT_EQ(*read_file(path, 100), "two");
  size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(FilesTest, CheckOutputWritable) {
  EXPECT_TRUE(check_output_writable("-"));
  EXPECT_TRUE(check_output_writable((dir_ / "new.svg").string()));
  auto missing = check_output_writable((dir_ / "no-such-dir" / "x.svg").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("no-such-dir"), std::string::npos);
  auto is_dir = check_output_writable(dir_.string());
  ASSERT_FALSE(is_dir);
  EXPECT_EQ(is_dir.error().message(), dir_.string() + ": is a directory");
}

}  // namespace
}  // namespace ember::common
