#pragma once
// The one bounds-checked reader of little-endian binary data (ELF notes, DWARF line tables and
// DIEs, call-frame information, Go's pclntab, protobuf varints).
//
// A read past the end fails: it returns 0 (or an empty view) and leaves the reader not ok(),
// sticky, so that a parser can check once after a group of reads instead of after each. The
// reader never touches a byte outside [pos, end) of the span it was given.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace ember::common {

class ByteReader {
 public:
  static constexpr size_t kToEnd = static_cast<size_t>(-1);

  // Reads [pos, end) of `data`; `end` past the data is the data's end.
  explicit ByteReader(std::span<const std::byte> data, size_t pos = 0, size_t end = kToEnd)
      : data_(data), end_(std::min(end, data.size())) {
    pos_ = std::min(pos, end_);
    ok_ = pos <= end_;
  }

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t end() const { return end_; }
  bool at_end() const { return pos_ >= end_; }
  size_t remaining() const { return end_ - pos_; }
  // Whether n more bytes can be read.
  bool has(uint64_t n) const { return n <= end_ - pos_; }

  void seek(size_t pos) {
    if (pos > end_) ok_ = false;
    pos_ = std::min(pos, end_);
  }
  void skip(uint64_t n) {
    if (!has(n)) return fail();
    pos_ += static_cast<size_t>(n);
  }

  // An unsigned little-endian integer of 1 to 8 bytes.
  uint64_t fixed(size_t size) {
    if (size > 8 || !has(size)) {
      fail();
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
  // Any trivially copyable value, in host byte order (x86-64 and arm64 data are little-endian).
  template <class T>
    requires std::is_trivially_copyable_v<T>
  T read() {
    T out{};
    if (!has(sizeof(T))) {
      fail();
      return out;
    }
    std::memcpy(&out, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return out;
  }

  // LEB128. Bits beyond 64 are dropped (producers pad LEB128 fields; the value still fits).
  uint64_t uleb() {
    uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      if (pos_ >= end_) {
        fail();
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
        fail();
        return 0;
      }
      byte = std::to_integer<uint8_t>(data_[pos_++]);
      if (shift < 64) value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    if (shift < 64 && (byte & 0x40)) value |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(value);
  }

  // A protobuf varint: at most 10 bytes, bits past the 64th dropped (as libprotobuf does).
  // kTruncated when the data ends inside it, kOverlong when 10 bytes all continue; the reader
  // is then not ok().
  enum class Varint { kOk, kTruncated, kOverlong };
  Varint varint(uint64_t& value) {
    uint64_t v = 0;
    for (size_t i = 0; i < 10; ++i) {
      if (pos_ + i >= end_) {
        fail();
        return Varint::kTruncated;
      }
      const auto b = std::to_integer<uint8_t>(data_[pos_ + i]);
      v |= uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80u) == 0) {
        value = v;
        pos_ += i + 1;
        return Varint::kOk;
      }
    }
    fail();
    return Varint::kOverlong;
  }

  // A NUL-terminated string in place (the NUL is read, not returned).
  std::string_view cstr() {
    const char* begin = reinterpret_cast<const char*>(data_.data()) + pos_;
    const void* nul = std::memchr(begin, 0, end_ - pos_);
    if (nul == nullptr) {
      fail();
      return {};
    }
    const size_t length = static_cast<size_t>(static_cast<const char*>(nul) - begin);
    pos_ += length + 1;
    return {begin, length};
  }
  // The next n bytes in place.
  std::span<const std::byte> bytes(uint64_t n) {
    if (!has(n)) {
      fail();
      return {};
    }
    auto out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  // Random access that moves nothing and leaves ok() alone: `size` (1 to 8) bytes at `offset`
  // from the start of the data, nullopt when they are not all inside [0, end).
  std::optional<uint64_t> uint_at(uint64_t offset, unsigned size) const {
    if (size == 0 || size > 8 || offset > end_ || end_ - offset < size) return std::nullopt;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) {
      v |= static_cast<uint64_t>(std::to_integer<uint8_t>(data_[offset + i])) << (8 * i);
    }
    return v;
  }
  // A NUL-terminated string at `offset` of at most max_length bytes; nullopt when it does not
  // end inside the data within that length.
  std::optional<std::string_view> cstr_at(uint64_t offset, size_t max_length) const {
    if (offset >= end_) return std::nullopt;
    const char* begin = reinterpret_cast<const char*>(data_.data()) + offset;
    const size_t limit = std::min<uint64_t>(end_ - offset, max_length);
    const void* nul = std::memchr(begin, '\0', limit);
    if (nul == nullptr) return std::nullopt;
    return std::string_view(begin, static_cast<size_t>(static_cast<const char*>(nul) - begin));
  }

 private:
  void fail() {
    ok_ = false;
    pos_ = end_;
  }

  std::span<const std::byte> data_;
  size_t end_;
  size_t pos_;
  bool ok_ = true;
};

}  // namespace ember::common
