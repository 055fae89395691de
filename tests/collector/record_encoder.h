#pragma once
// Synthesizes perf ring-buffer records byte by byte, the way the kernel lays them out
// (include/uapi/linux/perf_event.h), independently of the decoder under test.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "collector/record_decoder.h"

namespace ember::collector::test {

using Bytes = std::vector<std::byte>;

class Encoder {
 public:
  Encoder& u8(uint8_t v) { return raw(&v, 1); }
  Encoder& u16(uint16_t v) { return raw(&v, 2); }
  Encoder& u32(uint32_t v) { return raw(&v, 4); }
  Encoder& u64(uint64_t v) { return raw(&v, 8); }
  Encoder& raw(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    body_.insert(body_.end(), b, b + n);
    return *this;
  }
  // A NUL-terminated string padded with NULs to a multiple of 8, as the kernel writes names.
  Encoder& padded_string(std::string_view s) {
    raw(s.data(), s.size());
    u8(0);
    while (body_.size() % 8 != 0) u8(0);
    return *this;
  }
  size_t size() const { return body_.size(); }

  // The record: header (type, misc, size = 8 + body) then the body.
  Bytes finish(RecordType type, uint16_t misc = 0) const { return finish_raw(static_cast<uint32_t>(type), misc); }
  Bytes finish_raw(uint32_t type, uint16_t misc) const {
    Encoder h;
    h.u32(type).u16(misc).u16(static_cast<uint16_t>(8 + body_.size()));
    Bytes out = h.body_;
    out.insert(out.end(), body_.begin(), body_.end());
    return out;
  }

 private:
  Bytes body_;
};

struct SampleIdValues {
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t time = 0;
  uint64_t id = 0;
  uint32_t cpu = 0;
};

// The sample_id trailer for ember's format (TID, TIME, CPU, IDENTIFIER in that order).
inline void append_sample_id(Encoder& e, const SampleFormat& f, const SampleIdValues& v) {
  if (f.sample_type & kSampleTid) e.u32(v.pid).u32(v.tid);
  if (f.sample_type & kSampleTime) e.u64(v.time);
  if (f.sample_type & kSampleId) e.u64(v.id);
  if (f.sample_type & kSampleStreamId) e.u64(v.id);
  if (f.sample_type & kSampleCpu) e.u32(v.cpu).u32(0);
  if (f.sample_type & kSampleIdentifier) e.u64(v.id);
}

// The format ember's recorder uses in frame-pointer mode.
inline SampleFormat ember_format() {
  SampleFormat f;
  f.sample_type = kSampleIdentifier | kSampleIp | kSampleTid | kSampleTime | kSampleCpu |
                  kSamplePeriod | kSampleCallchain;
  f.sample_id_all = true;
  return f;
}

struct SampleValues {
  SampleIdValues id;
  uint64_t ip = 0;
  uint64_t period = 0;
  std::vector<uint64_t> callchain;
  uint16_t misc = kMiscUser;
  // With kSampleRegsUser / kSampleStackUser in the format:
  uint64_t regs_abi = 0;
  std::vector<uint64_t> regs;
  std::vector<std::byte> stack;
  uint64_t stack_dynamic_size = 0;
};

inline Bytes encode_sample(const SampleFormat& f, const SampleValues& s) {
  Encoder e;
  const uint64_t t = f.sample_type;
  if (t & kSampleIdentifier) e.u64(s.id.id);
  if (t & kSampleIp) e.u64(s.ip);
  if (t & kSampleTid) e.u32(s.id.pid).u32(s.id.tid);
  if (t & kSampleTime) e.u64(s.id.time);
  if (t & kSampleAddr) e.u64(0);
  if (t & kSampleId) e.u64(s.id.id);
  if (t & kSampleStreamId) e.u64(s.id.id);
  if (t & kSampleCpu) e.u32(s.id.cpu).u32(0);
  if (t & kSamplePeriod) e.u64(s.period);
  if (t & kSampleCallchain) {
    e.u64(s.callchain.size());
    for (uint64_t ip : s.callchain) e.u64(ip);
  }
  if (t & kSampleRegsUser) {
    e.u64(s.regs_abi);
    if (s.regs_abi != 0) {
      for (uint64_t r : s.regs) e.u64(r);
    }
  }
  if (t & kSampleStackUser) {
    e.u64(s.stack.size());
    if (!s.stack.empty()) {
      e.raw(s.stack.data(), s.stack.size());
      e.u64(s.stack_dynamic_size);
    }
  }
  return e.finish(RecordType::kSample, s.misc);
}

struct MmapValues {
  SampleIdValues id;
  uint32_t pid = 0;
  uint32_t tid = 0;
  uint64_t start = 0;
  uint64_t length = 0;
  uint64_t page_offset = 0;
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t inode = 0;
  uint64_t inode_generation = 0;
  std::vector<uint8_t> build_id;  // non-empty: the build-id variant of the union
  uint32_t prot = 5;              // PROT_READ | PROT_EXEC
  uint32_t flags = 2;             // MAP_PRIVATE
  std::string_view filename;
};

inline Bytes encode_mmap2(const SampleFormat& f, const MmapValues& m) {
  Encoder e;
  e.u32(m.pid).u32(m.tid).u64(m.start).u64(m.length).u64(m.page_offset);
  uint16_t misc = kMiscUser;
  if (!m.build_id.empty()) {
    misc |= kMiscMmapBuildId;
    e.u8(static_cast<uint8_t>(m.build_id.size())).u8(0).u16(0);
    uint8_t id[20] = {};
    std::memcpy(id, m.build_id.data(), std::min<size_t>(m.build_id.size(), 20));
    e.raw(id, 20);
  } else {
    e.u32(m.major).u32(m.minor).u64(m.inode).u64(m.inode_generation);
  }
  e.u32(m.prot).u32(m.flags);
  e.padded_string(m.filename);
  append_sample_id(e, f, m.id);
  return e.finish(RecordType::kMmap2, misc);
}

inline Bytes encode_comm(const SampleFormat& f, uint32_t pid, uint32_t tid, std::string_view comm,
                         bool exec, const SampleIdValues& id) {
  Encoder e;
  e.u32(pid).u32(tid).padded_string(comm);
  append_sample_id(e, f, id);
  return e.finish(RecordType::kComm, exec ? kMiscCommExec : 0);
}

inline Bytes encode_task(const SampleFormat& f, RecordType type, uint32_t pid, uint32_t ppid,
                         uint32_t tid, uint32_t ptid, const SampleIdValues& id) {
  Encoder e;
  e.u32(pid).u32(ppid).u32(tid).u32(ptid).u64(id.time);
  append_sample_id(e, f, id);
  return e.finish(type);
}

inline Bytes encode_lost(const SampleFormat& f, uint64_t event_id, uint64_t lost, const SampleIdValues& id) {
  Encoder e;
  e.u64(event_id).u64(lost);
  append_sample_id(e, f, id);
  return e.finish(RecordType::kLost);
}

inline Bytes encode_lost_samples(const SampleFormat& f, uint64_t lost, const SampleIdValues& id) {
  Encoder e;
  e.u64(lost);
  append_sample_id(e, f, id);
  return e.finish(RecordType::kLostSamples);
}

inline Bytes encode_throttle(const SampleFormat& f, bool throttle, uint64_t event_id, const SampleIdValues& id) {
  Encoder e;
  e.u64(id.time).u64(event_id).u64(event_id);
  append_sample_id(e, f, id);
  return e.finish(throttle ? RecordType::kThrottle : RecordType::kUnthrottle);
}

// Overwrites the header's size field (for lying-size tests).
inline void set_size_field(Bytes& record, uint16_t size) { std::memcpy(record.data() + 6, &size, 2); }

}  // namespace ember::collector::test
