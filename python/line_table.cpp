#include "python/line_table.h"

namespace ember::python {

namespace {

// Lines are summed in 64 bits from bytes of a target's memory: anything outside int32's
// non-negative range is a damaged table, not a line.
std::optional<int32_t> as_line(int64_t line) {
  if (line < 0 || line > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(line);
}

// 3.8–3.9 co_lnotab: pairs (bytecode delta, line delta), the line delta signed since 3.6.
std::optional<int32_t> lnotab_line(std::span<const std::byte> t, int64_t line, int64_t target) {
  int64_t addr = 0;
  for (size_t i = 0; i + 1 < t.size(); i += 2) {
    addr += static_cast<uint8_t>(t[i]);
    if (addr > target) break;
    line += static_cast<int8_t>(t[i + 1]);  // at most 2^63 / 128 pairs: cannot overflow
  }
  return as_line(line);
}

// 3.10 co_linetable (PEP 626): pairs (bytecode delta, line delta); a line delta of -128
// means the range has no line.
std::optional<int32_t> linetable310_line(std::span<const std::byte> t, int64_t line,
                                         int64_t target) {
  int64_t end = 0;
  for (size_t i = 0; i + 1 < t.size(); i += 2) {
    int64_t start = end;
    end += static_cast<uint8_t>(t[i]);
    int8_t delta = static_cast<int8_t>(t[i + 1]);
    bool has_line = delta != -128;
    if (has_line) line += delta;
    if (start <= target && target < end) {
      if (!has_line) return std::nullopt;
      return as_line(line);
    }
  }
  return std::nullopt;
}

// 3.11+ location table. Each entry starts with a byte with the top bit set:
// code = bits 3-6, length = bits 0-2 + 1 code units. Codes: 15 no location; 14 long form
// (signed varint line delta, then three varints); 13 no columns (signed varint line delta);
// 10-12 one-line forms (line delta code-10, two column bytes); 0-9 short forms (same line).
class LocationReader {
 public:
  explicit LocationReader(std::span<const std::byte> t) : t_(t) {}
  bool at_end() const { return pos_ >= t_.size(); }
  uint8_t next() { return static_cast<uint8_t>(t_[pos_++]); }
  size_t pos() const { return pos_; }
  // Varints hold 6 bits per byte, bit 6 set when another byte follows.
  std::optional<uint64_t> varint() {
    if (at_end()) return std::nullopt;
    uint8_t b = next();
    uint64_t v = b & 63;
    unsigned shift = 0;
    while (b & 64) {
      if (at_end() || shift > 56) return std::nullopt;
      b = next();
      shift += 6;
      v |= static_cast<uint64_t>(b & 63) << shift;
    }
    return v;
  }
  std::optional<int64_t> signed_varint() {
    auto u = varint();
    if (!u) return std::nullopt;
    return (*u & 1) ? -static_cast<int64_t>(*u >> 1) : static_cast<int64_t>(*u >> 1);
  }
  // Skips the rest of an entry: up to the next byte with the top bit set.
  void skip_entry() {
    while (!at_end() && !(static_cast<uint8_t>(t_[pos_]) & 0x80)) ++pos_;
  }

 private:
  std::span<const std::byte> t_;
  size_t pos_ = 0;
};

std::optional<int32_t> locations_line(std::span<const std::byte> t, int32_t first_line,
                                      int64_t target) {
  LocationReader r(t);
  int64_t line = first_line;
  int64_t end = 0;
  while (!r.at_end()) {
    uint8_t head = r.next();
    if (!(head & 0x80)) return std::nullopt;  // not at an entry start: damaged
    int code = (head >> 3) & 15;
    int64_t start = end;
    end += ((head & 7) + 1) * 2;  // code units are two bytes
    bool has_line = true;
    if (code == 15) {
      has_line = false;
    } else if (code == 14 || code == 13) {
      auto delta = r.signed_varint();
      // A delta no line number can take is damage (and would overflow the sum).
      if (!delta || *delta > INT32_MAX || *delta < -static_cast<int64_t>(INT32_MAX)) return std::nullopt;
      line += *delta;
    } else if (code >= 10) {
      line += code - 10;
    }
    r.skip_entry();
    if (!as_line(line)) return std::nullopt;
    if (start <= target && target < end) {
      if (!has_line) return std::nullopt;
      return as_line(line);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<int32_t> line_for_offset(LineTableFormat format, std::span<const std::byte> table,
                                       int32_t first_line, int64_t byte_offset) {
  if (byte_offset < 0) return as_line(first_line);
  switch (format) {
    case LineTableFormat::kLnotab:
      return lnotab_line(table, first_line, byte_offset);
    case LineTableFormat::kLinetable310:
      return linetable310_line(table, first_line, byte_offset);
    case LineTableFormat::kLocations311:
      return locations_line(table, first_line, byte_offset);
  }
  return std::nullopt;
}

}  // namespace ember::python
