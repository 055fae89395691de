#include "common/mapped_region.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <string>

namespace ember::common {

MappedRegion& MappedRegion::operator=(MappedRegion&& other) noexcept {
  if (this != &other) {
    reset();
    addr_ = std::exchange(other.addr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void MappedRegion::reset() {
  if (addr_ != nullptr && size_ != 0) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

Result<MappedRegion> MappedRegion::map_file(const UniqueFd& fd, std::string_view name_for_errors) {
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error(name_for_errors);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(name_for_errors) + ": not a regular file");
  }
  if (st.st_size == 0) return MappedRegion();
  void* addr = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED) return errno_error(std::string(name_for_errors) + ": mmap");
  return MappedRegion(addr, static_cast<size_t>(st.st_size));
}

Result<MappedRegion> MappedRegion::map_shared(const UniqueFd& fd, size_t size, int prot,
                                              std::string_view name_for_errors) {
  void* addr = ::mmap(nullptr, size, prot, MAP_SHARED, fd.get(), 0);
  if (addr == MAP_FAILED) return errno_error(std::string(name_for_errors) + ": mmap");
  return MappedRegion(addr, size);
}

}  // namespace ember::common
