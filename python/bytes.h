#pragma once
// Reading a value out of bytes copied from the target (no alignment assumed).

#include <cstddef>
#include <cstring>
#include <span>

namespace ember::python {

// The caller checks offset + sizeof(T) <= bytes.size().
template <class T>
T load(std::span<const std::byte> bytes, size_t offset) {
  T v{};
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

}  // namespace ember::python
