#include "elf/elf_file.h"

#include <elf.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "common/files.h"
#include "common/proc_maps.h"

namespace ember::elf {

namespace {

void init_libelf() {
  static std::once_flag once;
  std::call_once(once, [] { elf_version(EV_CURRENT); });
}

Error elf_error(std::string_view name, std::string_view what) {
  return Error(ErrorCode::kMalformed, fmt::format("{}: {}: {}", name, what, elf_errmsg(-1)));
}

// Walks the notes of a PT_NOTE segment or SHT_NOTE section for NT_GNU_BUILD_ID.
std::optional<common::BuildId> find_build_id_note(Elf_Data* data) {
  if (data == nullptr || data->d_buf == nullptr) return std::nullopt;
  size_t offset = 0;
  GElf_Nhdr nhdr;
  size_t name_offset = 0;
  size_t desc_offset = 0;
  while (offset < data->d_size &&
         (offset = gelf_getnote(data, offset, &nhdr, &name_offset, &desc_offset)) > 0) {
    if (nhdr.n_type == NT_GNU_BUILD_ID && nhdr.n_namesz == 4 &&
        name_offset + 4 <= data->d_size &&
        std::memcmp(static_cast<const char*>(data->d_buf) + name_offset, "GNU", 4) == 0 &&
        desc_offset + nhdr.n_descsz <= data->d_size && nhdr.n_descsz > 0 && nhdr.n_descsz <= 64) {
      const auto* bytes = static_cast<const std::byte*>(data->d_buf) + desc_offset;
      return common::BuildId(std::span<const std::byte>(bytes, nhdr.n_descsz));
    }
  }
  return std::nullopt;
}

}  // namespace

ElfFile::ElfFile(ElfFile&& other) noexcept
    : fd_(std::move(other.fd_)),
      image_(std::move(other.image_)),
      name_(std::move(other.name_)),
      elf_(std::exchange(other.elf_, nullptr)),
      file_size_(other.file_size_),
      is_dyn_(other.is_dyn_),
      build_id_(std::move(other.build_id_)),
      segments_(std::move(other.segments_)),
      sections_(std::move(other.sections_)) {}

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
  if (this != &other) {
    if (elf_ != nullptr) elf_end(elf_);
    fd_ = std::move(other.fd_);
    image_ = std::move(other.image_);
    name_ = std::move(other.name_);
    elf_ = std::exchange(other.elf_, nullptr);
    file_size_ = other.file_size_;
    is_dyn_ = other.is_dyn_;
    build_id_ = std::move(other.build_id_);
    segments_ = std::move(other.segments_);
    sections_ = std::move(other.sections_);
  }
  return *this;
}

ElfFile::~ElfFile() {
  if (elf_ != nullptr) elf_end(elf_);
}

Result<ElfFile> ElfFile::open_path(const std::string& path) {
  auto fd = common::open_regular_file(path);
  if (!fd) return std::unexpected(fd.error());
  return open(std::move(*fd), path);
}

Result<ElfFile> ElfFile::open(common::UniqueFd fd, std::string name) {
  init_libelf();
  ElfFile file;
  file.fd_ = std::move(fd);
  file.name_ = std::move(name);
  struct stat st{};
  if (::fstat(file.fd_.get(), &st) != 0) return errno_error(file.name_);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, file.name_ + ": not a regular file");
  }
  file.file_size_ = static_cast<uint64_t>(st.st_size);
  file.elf_ = elf_begin(file.fd_.get(), ELF_C_READ_MMAP, nullptr);
  if (file.elf_ == nullptr) return std::unexpected(elf_error(file.name_, "cannot read as ELF"));
  if (elf_kind(file.elf_) != ELF_K_ELF) {
    return make_error(ErrorCode::kMalformed, file.name_ + ": not an ELF file");
  }
  if (auto loaded = file.load(); !loaded) return std::unexpected(loaded.error());
  return file;
}

Result<ElfFile> ElfFile::from_image(std::vector<std::byte> image, std::string name) {
  init_libelf();
  ElfFile file;
  file.image_ = std::move(image);
  file.name_ = std::move(name);
  file.file_size_ = file.image_.size();
  if (file.image_.empty()) return make_error(ErrorCode::kMalformed, file.name_ + ": empty image");
  file.elf_ = elf_memory(reinterpret_cast<char*>(file.image_.data()), file.image_.size());
  if (file.elf_ == nullptr) return std::unexpected(elf_error(file.name_, "cannot read as ELF"));
  if (elf_kind(file.elf_) != ELF_K_ELF) {
    return make_error(ErrorCode::kMalformed, file.name_ + ": not an ELF file");
  }
  if (auto loaded = file.load(); !loaded) return std::unexpected(loaded.error());
  return file;
}

std::span<const std::byte> ElfFile::image() const {
  size_t size = 0;
  const char* raw = elf_ != nullptr ? elf_rawfile(elf_, &size) : nullptr;
  if (raw == nullptr) return {};
  return {reinterpret_cast<const std::byte*>(raw), size};
}

void ElfFile::release_pages() const {
  if (!fd_ || elf_ == nullptr) return;
  struct stat st{};
  if (::fstat(fd_.get(), &st) != 0 || st.st_size <= 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t whole = (static_cast<uint64_t>(st.st_size) + page - 1) / page * page;
  // Found in /proc/self/maps rather than asked of libelf (whose elf_rawfile() would read an
  // unmapped file into memory): only a private read-only mapping of this very file, from offset
  // 0 over all of it, is libelf's. The dynamic loader never maps a file that way, and its
  // mappings (relocated, copy-on-write) must never be dropped.
  auto maps = common::read_maps("/proc", static_cast<int32_t>(::getpid()));
  if (!maps) return;
  for (const common::MapsEntry& m : *maps) {
    if (m.readable && !m.writable && !m.executable && !m.shared && m.page_offset == 0 && m.inode == st.st_ino &&
        makedev(m.major, m.minor) == st.st_dev && m.end - m.start == whole) {
      ::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED);
    }
  }
}

bool ElfFile::has_section_data(std::string_view name) const {
  const SectionInfo* s = section(name);
  return s != nullptr && s->type != SHT_NOBITS && s->size > 0 && s->offset <= file_size_ &&
         s->size <= file_size_ - s->offset;
}

Result<void> ElfFile::load() {
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf_, &ehdr) == nullptr) return std::unexpected(elf_error(name_, "bad ELF header"));
  is_dyn_ = ehdr.e_type == ET_DYN;

  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) != 0) return std::unexpected(elf_error(name_, "bad program headers"));
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf_, static_cast<int>(i), &phdr) == nullptr) continue;
    if (phdr.p_type == PT_LOAD) {
      if (phdr.p_offset > file_size_ || phdr.p_filesz > file_size_ - phdr.p_offset) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: PT_LOAD segment {} runs past the end of the file", name_, i));
      }
      segments_.push_back(LoadSegment{phdr.p_vaddr, phdr.p_offset, phdr.p_filesz, phdr.p_memsz,
                                      (phdr.p_flags & PF_X) != 0});
    } else if (phdr.p_type == PT_NOTE && build_id_.empty()) {
      if (phdr.p_offset <= file_size_ && phdr.p_filesz <= file_size_ - phdr.p_offset) {
        Elf_Data* data = elf_getdata_rawchunk(elf_, static_cast<int64_t>(phdr.p_offset),
                                              phdr.p_filesz, ELF_T_NHDR);
        if (auto id = find_build_id_note(data)) build_id_ = std::move(*id);
      }
    }
  }

  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) != 0) {
    // No section names: a stripped-to-the-bone file still has program headers.
    return {};
  }
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr) continue;
    const char* section_name = elf_strptr(elf_, shstrndx, shdr.sh_name);
    SectionInfo info;
    info.name = section_name != nullptr ? section_name : "";
    info.type = shdr.sh_type;
    info.address = shdr.sh_addr;
    info.offset = shdr.sh_offset;
    info.size = shdr.sh_size;
    info.flags = shdr.sh_flags;
    info.index = elf_ndxscn(scn);
    if (build_id_.empty() && shdr.sh_type == SHT_NOTE && shdr.sh_offset <= file_size_ &&
        shdr.sh_size <= file_size_ - shdr.sh_offset) {
      if (auto id = find_build_id_note(elf_getdata(scn, nullptr))) build_id_ = std::move(*id);
    }
    sections_.push_back(std::move(info));
  }
  return {};
}

const SectionInfo* ElfFile::section(std::string_view name) const {
  for (const auto& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<common::ElfAddress> ElfFile::to_elf_address(common::FileOffset offset) const {
  for (const auto& seg : segments_) {
    if (offset.value() >= seg.file_offset && offset.value() < seg.file_offset + seg.file_size) {
      return common::ElfAddress(seg.vaddr + (offset.value() - seg.file_offset));
    }
  }
  return std::nullopt;
}

std::optional<common::FileOffset> ElfFile::to_file_offset(common::ElfAddress address) const {
  for (const auto& seg : segments_) {
    if (address.value() >= seg.vaddr && address.value() < seg.vaddr + seg.file_size) {
      return common::FileOffset(seg.file_offset + (address.value() - seg.vaddr));
    }
  }
  return std::nullopt;
}

Result<std::span<const std::byte>> ElfFile::section_bytes(const SectionInfo& section) const {
  if (section.type == SHT_NOBITS) return std::span<const std::byte>();
  if (section.offset > file_size_ || section.size > file_size_ - section.offset) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: section {} runs past the end of the file", name_, section.name));
  }
  Elf_Scn* scn = elf_getscn(elf_, section.index);
  Elf_Data* data = scn != nullptr ? elf_rawdata(scn, nullptr) : nullptr;
  if (data == nullptr || data->d_buf == nullptr) {
    return std::unexpected(elf_error(name_, "cannot read section " + section.name));
  }
  return std::span<const std::byte>(static_cast<const std::byte*>(data->d_buf), data->d_size);
}

std::optional<ElfFile::DebugLink> ElfFile::debug_link() const {
  const SectionInfo* s = section(".gnu_debuglink");
  if (s == nullptr) return std::nullopt;
  auto bytes = section_bytes(*s);
  if (!bytes || bytes->size() < 8) return std::nullopt;
  const char* text = reinterpret_cast<const char*>(bytes->data());
  size_t len = strnlen(text, bytes->size());
  if (len == 0 || len == bytes->size()) return std::nullopt;
  size_t crc_offset = (len + 1 + 3) & ~size_t{3};
  if (crc_offset + 4 > bytes->size()) return std::nullopt;
  DebugLink link;
  link.file.assign(text, len);
  std::memcpy(&link.crc, text + crc_offset, 4);
  return link;
}

Result<common::BuildId> read_build_id(const common::UniqueFd& fd, std::string_view name) {
  int dup = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return errno_error(name);
  auto file = ElfFile::open(common::UniqueFd(dup), std::string(name));
  if (!file) return std::unexpected(file.error());
  return file->build_id();
}

}  // namespace ember::elf
