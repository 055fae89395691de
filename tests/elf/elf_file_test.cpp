#include "elf/elf_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
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

// Resident kilobytes of the mappings of `path` in this process, from /proc/self/smaps.
uint64_t resident_kib(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool ours = false;
  uint64_t kib = 0;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16) {
      ours = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
    } else if (ours && line.rfind("Rss:", 0) == 0) {
      kib += std::strtoull(line.c_str() + 4, nullptr, 10);
    }
  }
  return kib;
}

TEST(ElfFile, ReleasedPagesLeaveTheResidentSetAndReadBackTheSame) {
  const std::string path = self_path();
  auto file = ElfFile::open_path(path);
  ASSERT_TRUE(file);
  auto bytes = file->image();
  ASSERT_GT(bytes.size(), 64u * 1024);
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 512) sum += static_cast<uint8_t>(bytes[i]);
  const uint64_t before = resident_kib(path);
  file->release_pages();
  const uint64_t after = resident_kib(path);
  // The whole-file mapping was resident (every page read) and is no longer; the loader's
  // own mappings of this executable are left alone.
  EXPECT_LT(after + bytes.size() / 1024 / 2, before) << "before " << before << " KiB, after " << after << " KiB";
  uint64_t again = 0;
  for (size_t i = 0; i < bytes.size(); i += 512) again += static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(again, sum);
  ASSERT_NE(file->section(".text"), nullptr);
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
