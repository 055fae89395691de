#pragma once
// Bounds-checked reading of DWARF's little-endian encodings (fixed sizes, LEB128, C strings).
// A read past the end fails: it returns 0 and leaves the reader not ok(), so that a parser can
// check once after a group of reads instead of after each.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace ember::symbolizer {

// Reads little-endian DWARF data within [pos, end); every read fails (sticky) past the end.
class DwarfReader {
 public:
  DwarfReader(std::span<const std::byte> data, size_t pos, size_t end)
      : data_(data), end_(std::min(end, data.size())) {
    pos_ = std::min(pos, end_);
    ok_ = pos <= end_;
  }

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t end() const { return end_; }
  bool at_end() const { return pos_ >= end_; }
  void seek(size_t pos) {
    if (pos > end_) ok_ = false;
    pos_ = std::min(pos, end_);
  }
  void skip(uint64_t n) {
    if (n > end_ - pos_) {
      ok_ = false;
      pos_ = end_;
    } else {
      pos_ += n;
    }
  }

  uint64_t fixed(size_t size) {
    if (size > end_ - pos_ || size > 8) {
      ok_ = false;
      pos_ = end_;
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < size; ++i) {
      value |= static_cast<uint64_t>(std::to_integer<uint8_t>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += size;
    return value;
  }
  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  uint16_t u16() { return static_cast<uint16_t>(fixed(2)); }
  uint32_t u32() { return static_cast<uint32_t>(fixed(4)); }
  uint64_t u64() { return fixed(8); }

  uint64_t uleb() {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= end_) {
        ok_ = false;
        return 0;
      }
      auto byte = std::to_integer<uint8_t>(data_[pos_++]);
      if (shift < 64) value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
  }
  int64_t sleb() {
    uint64_t value = 0;
    int shift = 0;
    uint8_t byte = 0;
    do {
      if (pos_ >= end_) {
        ok_ = false;
        return 0;
      }
      byte = std::to_integer<uint8_t>(data_[pos_++]);
      if (shift < 64) value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    if (shift < 64 && (byte & 0x40)) value |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(value);
  }
  // A NUL-terminated string in place.
  std::string_view cstr() {
    const char* begin = reinterpret_cast<const char*>(data_.data()) + pos_;
    const void* nul = std::memchr(begin, 0, end_ - pos_);
    if (nul == nullptr) {
      ok_ = false;
      pos_ = end_;
      return {};
    }
    size_t length = static_cast<const char*>(nul) - begin;
    pos_ += length + 1;
    return {begin, length};
  }

 private:
  std::span<const std::byte> data_;
  size_t end_;
  size_t pos_;
  bool ok_ = true;
};

}  // namespace ember::symbolizer
