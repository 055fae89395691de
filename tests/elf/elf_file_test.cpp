#include "elf/elf_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ember::elf {
namespace {

std::string self_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

TEST(ElfFile, ReadsOwnExecutable) {
  auto file = ElfFile::open_path(self_path());
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_FALSE(file->build_id().empty());  // Debian's gcc always emits one
  EXPECT_FALSE(file->load_segments().empty());
  ASSERT_NE(file->section(".text"), nullptr);
  EXPECT_NE(file->section(".symtab"), nullptr);
}

TEST(ElfFile, FileOffsetAndElfAddressRoundTrip) {
  auto file = ElfFile::open_path(self_path());
  ASSERT_TRUE(file);
  const SectionInfo* text = file->section(".text");
  ASSERT_NE(text, nullptr);
  auto offset = file->to_file_offset(common::ElfAddress(text->address + 16));
  ASSERT_TRUE(offset);
  EXPECT_EQ(offset->value(), text->offset + 16);
  auto back = file->to_elf_address(*offset);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value(), text->address + 16);
}

TEST(ElfFile, NotElfIsAClearError) {
  auto path = std::filesystem::temp_directory_path() / ("ember-not-elf-" + std::to_string(getpid()));
  std::ofstream(path) << "just text, no ELF magic here";
  auto file = ElfFile::open_path(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().message(), path.string() + ": not an ELF file");
}

TEST(ElfFile, TruncatedElfIsRefusedNotCrashed) {
  auto src = self_path();
  auto path = std::filesystem::temp_directory_path() / ("ember-trunc-" + std::to_string(getpid()));
  {
    std::ifstream in(src, std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(path, std::ios::binary) << head;
  }
  auto file = ElfFile::open_path(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), ErrorCode::kMalformed);
  EXPECT_NE(file.error().message().find(path.string() + ": PT_LOAD segment"), std::string::npos)
      << file.error().message();
  EXPECT_NE(file.error().message().find("runs past the end of the file"), std::string::npos);
}

}  // namespace
}  // namespace ember::elf
