#pragma once
// Numbers as people read them (values in their unit, shares, changes) and the one input rule
// for percentages that every command shares.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace ember::analysis {

// Parses a percentage or a fraction into a fraction:
//   "10%" → 0.10, "0.5%" → 0.005, "0.1" → 0.10, "0" → 0.
// Without '%', a number must be below 1: "10" or "1" could mean 10% or 1000% and is rejected
// with a message that shows both spellings. Negative, non-finite and trailing text are errors.
// Surrounding spaces are ignored.
[[nodiscard]] Result<double> parse_percentage(std::string_view text);

// A value in the unit of its sample type, for tables:
//   count        → "1234"
//   nanoseconds  → "850ns", "12.50us", "340.00ms", "1.25s" (microseconds/milliseconds/seconds too)
//   bytes        → "512B", "1.50kB", "3.20MB", "1.10GB" (powers of 1024, as pprof)
//   other units  → "1234 <unit>"
std::string format_value(double value, std::string_view unit);
inline std::string format_value(int64_t value, std::string_view unit) {
  return format_value(static_cast<double>(value), unit);
}

// A share as a percentage with two decimals: 0.4 → "40.00%".
std::string format_share(double share);

// A setting as the user would type it, the inverse of parse_percentage: 0.1 → "10%",
// 0.005 → "0.5%", 0.99 → "99%" (six significant digits).
std::string format_percentage(double fraction);

// A relative change with a sign and one decimal: 0.667 → "+66.7%", -0.2 → "-20.0%".
// Infinite (from zero) → "new".
std::string format_change(double change);

// A p-value for people: "<0.0001" below 1e-4, else two significant digits ("0.0031", "0.5").
std::string format_p_value(double p);

}  // namespace ember::analysis
