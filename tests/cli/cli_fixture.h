#pragma once
// A scratch directory per test for the hardening tests of `ember` (kept when the test fails).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ember::testing {

class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ember-hardening-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  static std::string read(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static bool is_char_device(const std::string& file) {
    struct stat st{};
    return ::stat(file.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
  }

  std::filesystem::path dir_;
};

inline const std::string kUsageLine = "Run 'ember --help' or 'ember COMMAND --help' for usage.\n";

}  // namespace ember::testing
