#include "proto/wire.h"

#include <fmt/format.h>

namespace ember::proto::wire {

std::string wire_type_name(uint32_t wire_type) {
  switch (wire_type) {
    case kVarint: return "varint";
    case kFixed64: return "64-bit";
    case kLengthDelimited: return "length-delimited";
    case kStartGroup: return "group start";
    case kEndGroup: return "group end";
    case kFixed32: return "32-bit";
  }
  return fmt::format("invalid wire type {}", wire_type);
}

bool take_varint(std::string_view& bytes, uint64_t& value) {
  common::ByteReader in(std::as_bytes(std::span(bytes.data(), bytes.size())));
  if (in.varint(value) != common::ByteReader::Varint::kOk) return false;
  bytes.remove_prefix(in.pos());
  return true;
}

Result<Field> Reader::next() {
  Field f;
  f.offset = in_.pos();
  uint64_t tag = 0;
  switch (in_.varint(tag)) {
    case common::ByteReader::Varint::kOk: break;
    case common::ByteReader::Varint::kTruncated:
      cut_off_ = true;
      return make_error(ErrorCode::kMalformed,
                        fmt::format("truncated protobuf data (the field tag at byte {} is cut off)",
                                    f.offset));
    case common::ByteReader::Varint::kOverlong:
      return make_error(ErrorCode::kMalformed,
                        fmt::format("malformed protobuf data (overlong varint at byte {})", f.offset));
  }
  f.wire_type = static_cast<uint32_t>(tag & 7);
  if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("malformed protobuf data (invalid field number {} at byte {})",
                                  tag >> 3, f.offset));
  }
  f.number = static_cast<uint32_t>(tag >> 3);
  auto cut_off = [&](size_t needed) {
    cut_off_ = true;
    return make_error(ErrorCode::kMalformed,
                      fmt::format("truncated protobuf data (field {} at byte {} needs {} bytes, {} "
                                  "remain)",
                                  f.number, f.offset, needed, in_.remaining()));
  };
  switch (f.wire_type) {
    case kVarint:
      switch (in_.varint(f.value)) {
        case common::ByteReader::Varint::kOk: return f;
        case common::ByteReader::Varint::kTruncated:
          cut_off_ = true;
          return make_error(ErrorCode::kMalformed,
                            fmt::format("truncated protobuf data (field {} at byte {} is cut off)",
                                        f.number, f.offset));
        case common::ByteReader::Varint::kOverlong:
          return make_error(ErrorCode::kMalformed,
                            fmt::format("malformed protobuf data (overlong varint in field {} at "
                                        "byte {})",
                                        f.number, f.offset));
      }
      break;
    case kFixed64:
    case kFixed32: {
      size_t n = f.wire_type == kFixed64 ? 8 : 4;
      if (!in_.has(n)) return cut_off(n);
      f.value = in_.fixed(n);
      return f;
    }
    case kLengthDelimited: {
      uint64_t length = 0;
      switch (in_.varint(length)) {
        case common::ByteReader::Varint::kOk: break;
        case common::ByteReader::Varint::kTruncated:
          cut_off_ = true;
          return make_error(ErrorCode::kMalformed,
                            fmt::format("truncated protobuf data (the length of field {} at byte "
                                        "{} is cut off)",
                                        f.number, f.offset));
        case common::ByteReader::Varint::kOverlong:
          return make_error(ErrorCode::kMalformed,
                            fmt::format("malformed protobuf data (overlong length in field {} at "
                                        "byte {})",
                                        f.number, f.offset));
      }
      if (!in_.has(length)) return cut_off(length);
      f.bytes = data_.substr(in_.pos(), static_cast<size_t>(length));
      in_.skip(length);
      return f;
    }
    default: break;
  }
  return make_error(ErrorCode::kMalformed,
                    fmt::format("malformed protobuf data ({} in field {} at byte {})",
                                f.wire_type == kStartGroup || f.wire_type == kEndGroup
                                    ? "unsupported " + wire_type_name(f.wire_type)
                                    : wire_type_name(f.wire_type),
                                f.number, f.offset));
}

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

}  // namespace ember::proto::wire
