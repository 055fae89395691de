#pragma once
// Move-only owner of an mmap'd region (a mapped file, a perf ring buffer).

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "common/error.h"
#include "common/unique_fd.h"

namespace ember::common {

class MappedRegion {
 public:
  MappedRegion() = default;
  MappedRegion(void* addr, size_t size) : addr_(addr), size_(size) {}
  MappedRegion(MappedRegion&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedRegion& operator=(MappedRegion&& other) noexcept;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion() { reset(); }

  // Maps a whole regular file read-only. An empty file yields an empty region (no mapping).
  [[nodiscard]] static Result<MappedRegion> map_file(const UniqueFd& fd, std::string_view name_for_errors);
  // Maps `size` bytes of `fd` with the given protection, shared (perf ring buffers).
  [[nodiscard]] static Result<MappedRegion> map_shared(const UniqueFd& fd, size_t size, int prot,
                                         std::string_view name_for_errors);

  void* data() const { return addr_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(addr_), size_};
  }
  void reset();

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ember::common
