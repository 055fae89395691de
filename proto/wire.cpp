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
  uint64_t v = 0;
  // At most 10 bytes; bits past the 64th are dropped, as libprotobuf does.
  for (size_t i = 0; i < bytes.size() && i < 10; ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    v |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80u) == 0) {
      value = v;
      bytes.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

Reader::VarintStatus Reader::read_varint(uint64_t& value) {
  std::string_view rest = data_.substr(pos_);
  if (take_varint(rest, value)) {
    pos_ = data_.size() - rest.size();
    return VarintStatus::kOk;
  }
  // Ten bytes that all continue cannot be a varint; fewer are a varint that the data cut off.
  return rest.size() >= 10 ? VarintStatus::kOverlong : VarintStatus::kTruncated;
}

Result<Field> Reader::next() {
  Field f;
  f.offset = pos_;
  uint64_t tag = 0;
  switch (read_varint(tag)) {
    case VarintStatus::kOk: break;
    case VarintStatus::kTruncated:
      cut_off_ = true;
      return make_error(ErrorCode::kMalformed,
                        fmt::format("truncated protobuf data (the field tag at byte {} is cut off)",
                                    f.offset));
    case VarintStatus::kOverlong:
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
                                  f.number, f.offset, needed, data_.size() - pos_));
  };
  switch (f.wire_type) {
    case kVarint:
      switch (read_varint(f.value)) {
        case VarintStatus::kOk: return f;
        case VarintStatus::kTruncated:
          cut_off_ = true;
          return make_error(ErrorCode::kMalformed,
                            fmt::format("truncated protobuf data (field {} at byte {} is cut off)",
                                        f.number, f.offset));
        case VarintStatus::kOverlong:
          return make_error(ErrorCode::kMalformed,
                            fmt::format("malformed protobuf data (overlong varint in field {} at "
                                        "byte {})",
                                        f.number, f.offset));
      }
      break;
    case kFixed64:
    case kFixed32: {
      size_t n = f.wire_type == kFixed64 ? 8 : 4;
      if (data_.size() - pos_ < n) return cut_off(n);
      for (size_t i = 0; i < n; ++i) {
        f.value |= uint64_t{static_cast<unsigned char>(data_[pos_ + i])} << (8 * i);
      }
      pos_ += n;
      return f;
    }
    case kLengthDelimited: {
      uint64_t length = 0;
      switch (read_varint(length)) {
        case VarintStatus::kOk: break;
        case VarintStatus::kTruncated:
          cut_off_ = true;
          return make_error(ErrorCode::kMalformed,
                            fmt::format("truncated protobuf data (the length of field {} at byte "
                                        "{} is cut off)",
                                        f.number, f.offset));
        case VarintStatus::kOverlong:
          return make_error(ErrorCode::kMalformed,
                            fmt::format("malformed protobuf data (overlong length in field {} at "
                                        "byte {})",
                                        f.number, f.offset));
      }
      if (length > data_.size() - pos_) return cut_off(length);
      f.bytes = data_.substr(pos_, length);
      pos_ += length;
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
