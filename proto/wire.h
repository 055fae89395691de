#pragma once
// The protobuf wire format at the level ember walks by hand: the fields of one message, each
// checked against the bytes that are really there. Messages inside fields are handed to the
// generated code; the top level is walked here so that a profile is converted one submessage at
// a time (memory bounded by the model, not by a second copy) and so that truncation and wrong
// wire types are reported precisely.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/byte_reader.h"
#include "common/error.h"

namespace ember::proto::wire {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// "varint", "length-delimited", ...; "invalid wire type 7" for the two unused values.
std::string wire_type_name(uint32_t wire_type);

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  size_t offset = 0;         // of the tag, from the start of the message
  uint64_t value = 0;        // varint and fixed fields
  std::string_view bytes;    // length-delimited fields: the payload
};

// Reads the fields of one message in order. Errors say what is wrong and at which byte
// ("truncated protobuf data (field 4 at byte 1234 needs 56 bytes, 20 remain)").
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data), in_(std::as_bytes(std::span(data.data(), data.size()))) {}

  bool done() const { return in_.at_end(); }
  size_t position() const { return in_.pos(); }
  // After an error from next(): whether the data ended inside the field (rather than being
  // malformed), which is no fault when the data is only the start of a file.
  bool cut_off() const { return cut_off_; }
  // The next field; groups and the unused wire types 6 and 7 are errors (profile.proto has no
  // groups, and a reader that cannot skip them safely must not guess).
  [[nodiscard]] Result<Field> next();

 private:
  std::string_view data_;
  common::ByteReader in_;
  bool cut_off_ = false;
};

// Appends the elements of a packed repeated varint field to `out` through `add(uint64_t)`.
template <class Add>
[[nodiscard]] Result<void> for_each_packed_varint(std::string_view bytes, Add&& add);

// sint64's encoding: small magnitudes of either sign as small varints.
inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Writing.
void put_varint(std::string& out, uint64_t value);
inline void put_tag(std::string& out, uint32_t number, WireType type) {
  put_varint(out, (uint64_t{number} << 3) | type);
}
inline void put_varint_field(std::string& out, uint32_t number, uint64_t value) {
  put_tag(out, number, kVarint);
  put_varint(out, value);
}
inline void put_bytes_field(std::string& out, uint32_t number, std::string_view bytes) {
  put_tag(out, number, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Decodes one varint from the front of `bytes`; false when truncated or longer than 10 bytes.
[[nodiscard]] bool take_varint(std::string_view& bytes, uint64_t& value);

template <class Add>
[[nodiscard]] Result<void> for_each_packed_varint(std::string_view bytes, Add&& add) {
  while (!bytes.empty()) {
    uint64_t v = 0;
    if (!take_varint(bytes, v)) {
      return make_error(ErrorCode::kMalformed, "malformed packed varints");
    }
    add(v);
  }
  return {};
}

}  // namespace ember::proto::wire
