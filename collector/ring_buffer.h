#pragma once
// Reading a perf ring buffer: the kernel writes records and advances data_head; we read up to
// it and advance data_tail. data_head is loaded with acquire ordering (the record bytes are
// visible once the head is), data_tail is stored with release ordering (the kernel may
// overwrite the bytes only after we are done with them). A record that wraps around the end
// of the data area is copied into a scratch buffer so the caller always sees contiguous bytes.
//
// The reader works on a RingLayout (pointers to head, tail and data), so tests drive it over
// an in-memory fake; MappedRing builds one from a real perf mmap.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdint>
#include <span>
#include <vector>

#include "collector/record_decoder.h"
#include "common/error.h"
#include "common/mapped_region.h"
#include "common/unique_fd.h"

namespace ember::collector {

struct RingLayout {
  uint64_t* head = nullptr;  // written by the producer (the kernel)
  uint64_t* tail = nullptr;  // written by us
  std::byte* data = nullptr;
  size_t size = 0;  // a power of two
};

struct RingReadStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t malformed = 0;  // a header that cannot be right; the rest of the unread data is skipped
  bool drained = true;     // false: stopped at max_bytes with records left
};

class RingReader {
 public:
  RingReader() = default;
  explicit RingReader(RingLayout layout) : layout_(layout) {}

  const RingLayout& layout() const { return layout_; }

  // Calls on_record(std::span<const std::byte>) for every complete record between tail and
  // head (stopping after the record that reaches max_bytes), then releases the space. The span
  // is valid only during the call. Reading in bounded chunks gives the kernel space back early.
  template <class OnRecord>
  RingReadStats read(OnRecord&& on_record, size_t max_bytes = SIZE_MAX);

 private:
  void copy_out(uint64_t pos, size_t n, std::byte* out) const {
    const size_t mask = layout_.size - 1;
    size_t at = static_cast<size_t>(pos) & mask;
    size_t first = std::min(n, layout_.size - at);
    std::memcpy(out, layout_.data + at, first);
    std::memcpy(out + first, layout_.data, n - first);
  }

  RingLayout layout_;
  // Scratch for records that wrap; u64 so the copy is aligned like the ring.
  std::vector<uint64_t> scratch_;
};

// A perf ring buffer mapped from an event fd: one metadata page and 2^n data pages.
class MappedRing {
 public:
  // data_bytes: a power-of-two multiple of the page size.
  [[nodiscard]] static Result<MappedRing> map(const common::UniqueFd& event_fd, size_t data_bytes);

  RingReader& reader() { return reader_; }
  size_t data_bytes() const { return data_bytes_; }

 private:
  common::MappedRegion region_;
  RingReader reader_;
  size_t data_bytes_ = 0;
};

template <class OnRecord>
RingReadStats RingReader::read(OnRecord&& on_record, size_t max_bytes) {
  RingReadStats stats;
  if (layout_.size == 0) return stats;
  const uint64_t head = std::atomic_ref<uint64_t>(*layout_.head).load(std::memory_order_acquire);
  uint64_t tail = std::atomic_ref<uint64_t>(*layout_.tail).load(std::memory_order_relaxed);
  const size_t mask = layout_.size - 1;

  if (head - tail > layout_.size) {
    // The producer claims more than the ring holds: nothing in it can be trusted.
    stats.malformed++;
    tail = head;
  }
  while (tail != head) {
    const uint64_t available = head - tail;
    if (available < kRecordHeaderSize) {
      stats.malformed++;
      tail = head;
      break;
    }
    std::byte header_bytes[kRecordHeaderSize];
    copy_out(tail, kRecordHeaderSize, header_bytes);
    const RecordHeader header = read_record_header(header_bytes);
    if (header.size < kRecordHeaderSize || header.size > available) {
      // The size is a lie: the next record's start is unknown, so skip everything unread.
      stats.malformed++;
      tail = head;
      break;
    }
    const size_t at = static_cast<size_t>(tail) & mask;
    if (at + header.size <= layout_.size) {
      on_record(std::span<const std::byte>(layout_.data + at, header.size));
    } else {
      scratch_.resize((header.size + 7) / 8);
      auto* out = reinterpret_cast<std::byte*>(scratch_.data());
      copy_out(tail, header.size, out);
      on_record(std::span<const std::byte>(out, header.size));
    }
    stats.records++;
    stats.bytes += header.size;
    tail += header.size;
    if (stats.bytes >= max_bytes && tail != head) {
      stats.drained = false;
      break;
    }
  }
  std::atomic_ref<uint64_t>(*layout_.tail).store(tail, std::memory_order_release);
  return stats;
}

}  // namespace ember::collector
