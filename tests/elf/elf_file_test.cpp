#include "elf/elf_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
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

TEST(ElfFile, ImageInMemoryReadsLikeTheFile) {
  auto path = self_path();
  auto from_disk = ElfFile::open_path(path);
  ASSERT_TRUE(from_disk);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> image(bytes.size());
  std::memcpy(image.data(), bytes.data(), bytes.size());
  auto from_memory = ElfFile::from_image(std::move(image), "[copy]");
  ASSERT_TRUE(from_memory) << from_memory.error().message();
  EXPECT_EQ(from_memory->name(), "[copy]");
  EXPECT_EQ(from_memory->fd(), -1);
  EXPECT_EQ(from_memory->build_id(), from_disk->build_id());
  EXPECT_EQ(from_memory->load_segments().size(), from_disk->load_segments().size());
  ASSERT_EQ(from_memory->image().size(), bytes.size());
  EXPECT_EQ(std::memcmp(from_memory->image().data(), bytes.data(), bytes.size()), 0);
  // Moving keeps the image (and libelf's pointers into it) valid.
  ElfFile moved = std::move(*from_memory);
  EXPECT_EQ(moved.build_id(), from_disk->build_id());
  EXPECT_NE(moved.section(".text"), nullptr);

  auto garbage = ElfFile::from_image(std::vector<std::byte>(64, std::byte{0x41}), "[garbage]");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().message(), "[garbage]: not an ELF file");
  EXPECT_FALSE(ElfFile::from_image({}, "[empty]"));
}

TEST(ElfFile, ImageOfAFileIsItsWholeContents) {
  auto file = ElfFile::open_path(self_path());
  ASSERT_TRUE(file);
  EXPECT_EQ(file->image().size(), file->file_size());
  EXPECT_EQ(std::memcmp(file->image().data(), "\x7f" "ELF", 4), 0);
}

TEST(ElfFile, SectionDataPresence) {
  auto file = ElfFile::open_path(self_path());
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->has_section_data(".text"));
  EXPECT_FALSE(file->has_section_data(".bss"));  // SHT_NOBITS
  EXPECT_FALSE(file->has_section_data(".no_such_section"));
}

}  // namespace
}  // namespace ember::elf
