#include "collector/ring_buffer.h"

#include <linux/perf_event.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cstddef>

namespace ember::collector {

Result<MappedRing> MappedRing::map(const common::UniqueFd& event_fd, size_t data_bytes) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (data_bytes == 0 || data_bytes % page != 0 || !std::has_single_bit(data_bytes)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "perf ring buffer size must be a power-of-two number of pages, not " +
                          std::to_string(data_bytes) + " bytes");
  }
  // PROT_WRITE so that the kernel honours data_tail (no overwrite mode).
  auto region = common::MappedRegion::map_shared(event_fd, page + data_bytes,
                                                 PROT_READ | PROT_WRITE, "perf ring buffer");
  if (!region) return std::unexpected(region.error());
  MappedRing ring;
  ring.region_ = std::move(*region);
  ring.data_bytes_ = data_bytes;
  auto* meta = static_cast<perf_event_mmap_page*>(ring.region_.data());
  // Kernels since 4.1 publish where the data area starts; older ones put it right after page 0.
  size_t data_offset = meta->data_offset != 0 ? static_cast<size_t>(meta->data_offset) : page;
  if (meta->data_size != 0 && meta->data_size != data_bytes) {
    return make_error(ErrorCode::kInternal, "perf ring buffer: kernel reports " +
                                                std::to_string(meta->data_size) +
                                                " data bytes, mapped " + std::to_string(data_bytes));
  }
  RingLayout layout;
  layout.head = reinterpret_cast<uint64_t*>(&meta->data_head);
  layout.tail = reinterpret_cast<uint64_t*>(&meta->data_tail);
  layout.data = static_cast<std::byte*>(ring.region_.data()) + data_offset;
  layout.size = data_bytes;
  ring.reader_ = RingReader(layout);
  return ring;
}

}  // namespace ember::collector
