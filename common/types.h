#pragma once
// Each kind of address has its own type so that the compiler catches a mix-up
// (a process address passed where a file offset is expected, say).

#include <compare>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace ember::common {

template <class Tag>
class StrongAddress {
 public:
  constexpr StrongAddress() = default;
  constexpr explicit StrongAddress(uint64_t value) : value_(value) {}
  constexpr uint64_t value() const { return value_; }
  constexpr auto operator<=>(const StrongAddress&) const = default;

 private:
  uint64_t value_ = 0;
};

// An address in a process's virtual address space (what the sampled IP is).
using ProcessAddress = StrongAddress<struct ProcessAddressTag>;
// An offset into a mapped file: ProcessAddress - mapping start + mapping page offset.
using FileOffset = StrongAddress<struct FileOffsetTag>;
// A link-time virtual address inside an ELF file (what addr2line and symbol tables use).
using ElfAddress = StrongAddress<struct ElfAddressTag>;

// The GNU build-id of a binary (raw bytes, usually 20); empty when the binary has none.
class BuildId {
 public:
  BuildId() = default;
  explicit BuildId(std::span<const std::byte> bytes);
  explicit BuildId(std::string raw) : raw_(std::move(raw)) {}
  // Parses lowercase or uppercase hex; returns an empty id on malformed input.
  static BuildId from_hex(std::string_view hex);

  bool empty() const { return raw_.empty(); }
  const std::string& raw() const { return raw_; }
  std::string hex() const;
  auto operator<=>(const BuildId&) const = default;

 private:
  std::string raw_;
};

// "0x1a2b" formatting used in frame names such as "liblzma.so.5+0x15a20".
std::string hex_address(uint64_t value);

}  // namespace ember::common

template <class Tag>
struct std::hash<ember::common::StrongAddress<Tag>> {
  size_t operator()(const ember::common::StrongAddress<Tag>& a) const noexcept {
    return std::hash<uint64_t>{}(a.value());
  }
};

template <>
struct std::hash<ember::common::BuildId> {
  size_t operator()(const ember::common::BuildId& id) const noexcept {
    return std::hash<std::string>{}(id.raw());
  }
};
