#pragma once
// An opened ELF file, read through libelf. Shared by the collector (build-ids, unwind tables)
// and the symbolizer (symbols, DWARF). The file may be hostile: every offset and size it
// declares is checked against the file before use.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/types.h"
#include "common/unique_fd.h"

typedef struct Elf Elf;  // libelf's handle; <libelf.h> stays in elf/*.cpp

namespace ember::elf {

struct LoadSegment {
  uint64_t vaddr = 0;      // p_vaddr
  uint64_t file_offset = 0;  // p_offset
  uint64_t file_size = 0;  // p_filesz
  uint64_t mem_size = 0;   // p_memsz
  bool executable = false;
};

struct SectionInfo {
  std::string name;
  uint32_t type = 0;     // SHT_*
  uint64_t address = 0;  // sh_addr
  uint64_t offset = 0;   // sh_offset
  uint64_t size = 0;     // sh_size
  uint64_t flags = 0;    // sh_flags (SHF_*)
  size_t index = 0;      // section index, for elf_getscn
};

class ElfFile {
 public:
  // Takes ownership of the fd. `name` is used in error messages (the path the user knows).
  [[nodiscard]] static Result<ElfFile> open(common::UniqueFd fd, std::string name);
  // Opens a regular file (never blocks on FIFOs) and reads it as ELF.
  [[nodiscard]] static Result<ElfFile> open_path(const std::string& path);
  // Reads an ELF image held in memory (the vdso copied out of our own address space).
  // The file keeps the bytes; fd() is -1.
  [[nodiscard]] static Result<ElfFile> from_image(std::vector<std::byte> image, std::string name);

  ElfFile(ElfFile&&) noexcept;
  ElfFile& operator=(ElfFile&&) noexcept;
  ~ElfFile();

  const std::string& name() const { return name_; }
  Elf* handle() const { return elf_; }
  int fd() const { return fd_.get(); }
  // The whole file as libelf sees it (mapped, not copied): for checksums such as the
  // .gnu_debuglink CRC.
  std::span<const std::byte> image() const;
  // Drops this process's resident pages of the file as libelf mapped it (a private, read-only
  // mapping of the whole file): they come back from the page cache when read again. Long-lived
  // readers (emberd) call it between uses so that debug information read once does not stay
  // in their RSS. Does nothing when the file is not mapped that way.
  void release_pages() const;
  uint64_t file_size() const { return file_size_; }
  bool is_shared_object() const { return is_dyn_; }  // ET_DYN (PIE or library)

  const common::BuildId& build_id() const { return build_id_; }
  const std::vector<LoadSegment>& load_segments() const { return segments_; }
  const std::vector<SectionInfo>& sections() const { return sections_; }
  const SectionInfo* section(std::string_view name) const;
  // True when the section exists and has contents in this file (not SHT_NOBITS, as the
  // DWARF sections of a stripped binary or the code sections of a debug-only file are).
  bool has_section_data(std::string_view name) const;

  // Converts between a file offset (what a mapping gives) and the link-time address
  // (what symbol tables and DWARF use), through the PT_LOAD headers.
  std::optional<common::ElfAddress> to_elf_address(common::FileOffset offset) const;
  std::optional<common::FileOffset> to_file_offset(common::ElfAddress address) const;

  // The bytes of a section with file contents; an error when it lies outside the file.
  [[nodiscard]] Result<std::span<const std::byte>> section_bytes(const SectionInfo& section) const;

  // .gnu_debuglink: the separate debug file's name and CRC, when present.
  struct DebugLink {
    std::string file;
    uint32_t crc = 0;
  };
  std::optional<DebugLink> debug_link() const;

 private:
  ElfFile() = default;
  [[nodiscard]] Result<void> load();

  common::UniqueFd fd_;
  std::vector<std::byte> image_;  // from_image only; a moved vector keeps its buffer
  std::string name_;
  Elf* elf_ = nullptr;
  uint64_t file_size_ = 0;
  bool is_dyn_ = false;
  common::BuildId build_id_;
  std::vector<LoadSegment> segments_;
  std::vector<SectionInfo> sections_;
};

// Reads only the build-id of a file (the collector does this for every mapped binary).
[[nodiscard]] Result<common::BuildId> read_build_id(const common::UniqueFd& fd, std::string_view name);

}  // namespace ember::elf
