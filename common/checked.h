#pragma once
// Arithmetic on counts and values that come from files: it saturates or reports overflow, never
// wraps. Two folded lines of count 2^63-1 must not become a negative total.

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace ember::common {

// a + b, or nullopt when it does not fit in T.
template <class T>
  requires std::is_integral_v<T>
[[nodiscard]] constexpr std::optional<T> checked_add(T a, T b) {
  T sum{};
  if (__builtin_add_overflow(a, b, &sum)) return std::nullopt;
  return sum;
}

// a * b, or nullopt when it does not fit in T.
template <class T>
  requires std::is_integral_v<T>
[[nodiscard]] constexpr std::optional<T> checked_mul(T a, T b) {
  T product{};
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// a + b, clamped to T's range.
template <class T>
  requires std::is_integral_v<T>
[[nodiscard]] constexpr T saturating_add(T a, T b) {
  T sum{};
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  if constexpr (std::is_signed_v<T>) {
    return b < 0 ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max();
  } else {
    return std::numeric_limits<T>::max();
  }
}

// a * b, clamped to T's range.
template <class T>
  requires std::is_integral_v<T>
[[nodiscard]] constexpr T saturating_mul(T a, T b) {
  T product{};
  if (!__builtin_mul_overflow(a, b, &product)) return product;
  if constexpr (std::is_signed_v<T>) {
    return (a < 0) != (b < 0) ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max();
  } else {
    return std::numeric_limits<T>::max();
  }
}

}  // namespace ember::common
