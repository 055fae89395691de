#include "collector/record_decoder.h"

#include <linux/perf_event.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace ember::collector {

// The restated ABI numbers must be the kernel's.
static_assert(static_cast<uint32_t>(RecordType::kMmap) == PERF_RECORD_MMAP);
static_assert(static_cast<uint32_t>(RecordType::kLost) == PERF_RECORD_LOST);
static_assert(static_cast<uint32_t>(RecordType::kComm) == PERF_RECORD_COMM);
static_assert(static_cast<uint32_t>(RecordType::kExit) == PERF_RECORD_EXIT);
static_assert(static_cast<uint32_t>(RecordType::kThrottle) == PERF_RECORD_THROTTLE);
static_assert(static_cast<uint32_t>(RecordType::kUnthrottle) == PERF_RECORD_UNTHROTTLE);
static_assert(static_cast<uint32_t>(RecordType::kFork) == PERF_RECORD_FORK);
static_assert(static_cast<uint32_t>(RecordType::kSample) == PERF_RECORD_SAMPLE);
static_assert(static_cast<uint32_t>(RecordType::kMmap2) == PERF_RECORD_MMAP2);
static_assert(static_cast<uint32_t>(RecordType::kLostSamples) == PERF_RECORD_LOST_SAMPLES);
static_assert(static_cast<uint32_t>(RecordType::kSwitch) == PERF_RECORD_SWITCH);
static_assert(static_cast<uint32_t>(RecordType::kSwitchCpuWide) == PERF_RECORD_SWITCH_CPU_WIDE);
static_assert(kMiscSwitchOut == PERF_RECORD_MISC_SWITCH_OUT &&
              kMiscSwitchOutPreempt == PERF_RECORD_MISC_SWITCH_OUT_PREEMPT);
static_assert(kSampleIp == PERF_SAMPLE_IP && kSampleTid == PERF_SAMPLE_TID &&
              kSampleTime == PERF_SAMPLE_TIME && kSampleAddr == PERF_SAMPLE_ADDR &&
              kSampleId == PERF_SAMPLE_ID && kSampleCpu == PERF_SAMPLE_CPU &&
              kSamplePeriod == PERF_SAMPLE_PERIOD && kSampleStreamId == PERF_SAMPLE_STREAM_ID &&
              kSampleCallchain == PERF_SAMPLE_CALLCHAIN && kSampleRegsUser == PERF_SAMPLE_REGS_USER &&
              kSampleStackUser == PERF_SAMPLE_STACK_USER &&
              kSampleIdentifier == PERF_SAMPLE_IDENTIFIER);
static_assert(kMiscCpuModeMask == PERF_RECORD_MISC_CPUMODE_MASK &&
              kMiscKernel == PERF_RECORD_MISC_KERNEL && kMiscUser == PERF_RECORD_MISC_USER &&
              kMiscCommExec == PERF_RECORD_MISC_COMM_EXEC &&
              kMiscMmapBuildId == PERF_RECORD_MISC_MMAP_BUILD_ID);
static_assert(kContextKernel == PERF_CONTEXT_KERNEL && kContextUser == PERF_CONTEXT_USER &&
              kContextMax == PERF_CONTEXT_MAX);
static_assert(sizeof(perf_event_header) == kRecordHeaderSize);

namespace {

constexpr uint64_t kSupportedSampleBits = kSampleIdentifier | kSampleIp | kSampleTid | kSampleTime |
                                          kSampleAddr | kSampleId | kSampleStreamId | kSampleCpu |
                                          kSamplePeriod | kSampleCallchain | kSampleRegsUser |
                                          kSampleStackUser;

// A bounds-checked cursor over one record. Every read checks the remaining length first; after
// a failed read ok() is false and further reads return zeros.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> bytes) : p_(bytes.data()), left_(bytes.size()) {}

  bool ok() const { return ok_; }
  size_t left() const { return left_; }
  const std::byte* position() const { return p_; }

  uint64_t u64() { return read<uint64_t>(); }
  uint32_t u32() { return read<uint32_t>(); }
  uint16_t u16() { return read<uint16_t>(); }
  uint8_t u8() { return read<uint8_t>(); }

  // n bytes as a view, or fails when fewer remain.
  std::span<const std::byte> take(size_t n) {
    if (!ok_ || n > left_) {
      ok_ = false;
      return {};
    }
    std::span<const std::byte> out(p_, n);
    p_ += n;
    left_ -= n;
    return out;
  }
  bool skip(size_t n) { return !take(n).empty() || n == 0; }

 private:
  template <class T>
  T read() {
    T v{};
    if (!ok_ || left_ < sizeof(T)) {
      ok_ = false;
      return v;
    }
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    left_ -= sizeof(T);
    return v;
  }

  const std::byte* p_;
  size_t left_;
  bool ok_ = true;
};

CpuMode cpu_mode(uint16_t misc) {
  switch (misc & kMiscCpuModeMask) {
    case kMiscKernel: return CpuMode::kKernel;
    case kMiscUser: return CpuMode::kUser;
    case 0: return CpuMode::kUnknown;
    default: return CpuMode::kOther;
  }
}

// Parses the sample_id trailer from the last format.sample_id_size() bytes of the record.
SampleId parse_sample_id(std::span<const std::byte> trailer, const SampleFormat& format) {
  SampleId sid;
  Cursor c(trailer);
  const uint64_t t = format.sample_type;
  if (t & kSampleTid) {
    sid.pid = static_cast<int32_t>(c.u32());
    sid.tid = static_cast<int32_t>(c.u32());
  }
  if (t & kSampleTime) {
    sid.time = c.u64();
    sid.has_time = true;
  }
  if (t & kSampleId) sid.id = c.u64();
  if (t & kSampleStreamId) sid.stream_id = c.u64();
  if (t & kSampleCpu) {
    sid.cpu = c.u32();
    c.u32();
  }
  if (t & kSampleIdentifier) sid.id = c.u64();
  return sid;
}

// Reads a NUL-terminated string from a padded area; the NUL must lie inside the area.
std::expected<std::string_view, DecodeError> padded_string(std::span<const std::byte> area) {
  const void* nul = std::memchr(area.data(), 0, area.size());
  if (nul == nullptr) return std::unexpected(DecodeError::kBadString);
  auto len = static_cast<size_t>(static_cast<const std::byte*>(nul) - area.data());
  return std::string_view(reinterpret_cast<const char*>(area.data()), len);
}

[[nodiscard]] std::expected<SampleRecord, DecodeError> decode_sample(std::span<const std::byte> body, uint16_t misc,
                                                       const SampleFormat& format) {
  SampleRecord s;
  s.mode = cpu_mode(misc);
  Cursor c(body);
  const uint64_t t = format.sample_type;
  if (t & kSampleIdentifier) s.sid.id = c.u64();
  if (t & kSampleIp) s.ip = c.u64();
  if (t & kSampleTid) {
    s.sid.pid = static_cast<int32_t>(c.u32());
    s.sid.tid = static_cast<int32_t>(c.u32());
  }
  if (t & kSampleTime) {
    s.sid.time = c.u64();
    s.sid.has_time = true;
  }
  if (t & kSampleAddr) s.addr = c.u64();
  if (t & kSampleId) s.sid.id = c.u64();
  if (t & kSampleStreamId) s.sid.stream_id = c.u64();
  if (t & kSampleCpu) {
    s.sid.cpu = c.u32();
    c.u32();
  }
  if (t & kSamplePeriod) s.period = c.u64();
  if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
  if (t & kSampleCallchain) {
    uint64_t nr = c.u64();
    if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
    // Compare counts, not nr * 8, so that a huge nr cannot overflow the multiplication.
    if (nr > c.left() / 8) return std::unexpected(DecodeError::kFieldOverflow);
    s.callchain = U64View(c.position(), static_cast<size_t>(nr));
    c.skip(static_cast<size_t>(nr) * 8);
  }
  if (t & kSampleRegsUser) {
    s.regs_abi = c.u64();
    if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
    if (s.regs_abi != 0) {  // ABI_NONE: the kernel wrote no registers (a kernel thread)
      auto n = static_cast<size_t>(std::popcount(format.regs_user_mask));
      if (n > c.left() / 8) return std::unexpected(DecodeError::kFieldOverflow);
      s.regs_user = U64View(c.position(), n);
      c.skip(n * 8);
    }
  }
  if (t & kSampleStackUser) {
    uint64_t size = c.u64();
    if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
    if (size != 0) {
      if (size > c.left()) return std::unexpected(DecodeError::kFieldOverflow);
      s.stack_user = c.take(static_cast<size_t>(size));
      s.stack_user_dynamic_size = c.u64();
      if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
      if (s.stack_user_dynamic_size > size) return std::unexpected(DecodeError::kBadField);
    }
  }
  // Trailing bytes mean the layout is not the one we asked for: trusting it would misread fields.
  if (c.left() != 0) return std::unexpected(DecodeError::kSizeMismatch);
  return s;
}

[[nodiscard]] std::expected<MmapRecord, DecodeError> decode_mmap(std::span<const std::byte> body, uint16_t misc,
                                                   bool is_mmap2) {
  MmapRecord m;
  m.is_mmap2 = is_mmap2;
  m.mode = cpu_mode(misc);
  Cursor c(body);
  m.pid = static_cast<int32_t>(c.u32());
  m.tid = static_cast<int32_t>(c.u32());
  m.start = c.u64();
  m.length = c.u64();
  m.page_offset = c.u64();
  if (is_mmap2) {
    m.has_build_id = (misc & kMiscMmapBuildId) != 0;
    if (m.has_build_id) {
      uint8_t size = c.u8();
      c.u8();
      c.u16();
      auto id = c.take(kMaxBuildIdSize);  // 1 + 1 + 2 + 20: the union's 24 bytes
      if (c.ok() && size > kMaxBuildIdSize) return std::unexpected(DecodeError::kBadField);
      if (c.ok()) m.build_id = id.first(size);
    } else {
      m.major = c.u32();
      m.minor = c.u32();
      m.inode = c.u64();
      m.inode_generation = c.u64();
    }
    m.prot = c.u32();
    m.flags = c.u32();
  }
  if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
  if (m.start + m.length < m.start) return std::unexpected(DecodeError::kBadField);
  auto name = padded_string(c.take(c.left()));
  if (!name) return std::unexpected(name.error());
  m.filename = *name;
  return m;
}

[[nodiscard]] std::expected<CommRecord, DecodeError> decode_comm(std::span<const std::byte> body, uint16_t misc) {
  CommRecord r;
  Cursor c(body);
  r.pid = static_cast<int32_t>(c.u32());
  r.tid = static_cast<int32_t>(c.u32());
  if (!c.ok()) return std::unexpected(DecodeError::kTruncated);
  r.exec = (misc & kMiscCommExec) != 0;
  auto name = padded_string(c.take(c.left()));
  if (!name) return std::unexpected(name.error());
  r.comm = *name;
  return r;
}

// The fixed-size bodies must fill the record exactly.
template <class Fn>
auto exact(std::span<const std::byte> body, size_t expected_size, Fn&& fn)
    -> std::expected<decltype(fn(std::declval<Cursor&>())), DecodeError> {
  if (body.size() < expected_size) return std::unexpected(DecodeError::kTruncated);
  if (body.size() > expected_size) return std::unexpected(DecodeError::kSizeMismatch);
  Cursor c(body);
  return fn(c);
}

}  // namespace

bool SampleFormat::supported() const { return (sample_type & ~kSupportedSampleBits) == 0; }

size_t SampleFormat::sample_id_size() const {
  if (!sample_id_all) return 0;
  size_t n = 0;
  for (uint64_t bit : {kSampleTid, kSampleTime, kSampleId, kSampleStreamId, kSampleCpu,
                       kSampleIdentifier}) {
    if (sample_type & bit) n += 8;
  }
  return n;
}

bool Record::has_time() const {
  return std::visit(
      [](const auto& r) {
        if constexpr (requires { r.sid; }) {
          return r.sid.has_time;
        } else {
          return false;
        }
      },
      body);
}

uint64_t Record::time() const {
  return std::visit(
      [](const auto& r) -> uint64_t {
        if constexpr (requires { r.sid; }) {
          return r.sid.time;
        } else {
          return 0;
        }
      },
      body);
}

namespace {

struct Rebaser {
  std::uintptr_t from;
  const std::byte* to;

  const std::byte* at(const void* p) const {
    return p == nullptr ? nullptr : to + (reinterpret_cast<std::uintptr_t>(p) - from);
  }
  void operator()(U64View& v) const { v = U64View(at(v.data()), v.size()); }
  void operator()(std::span<const std::byte>& v) const { v = std::span<const std::byte>(at(v.data()), v.size()); }
  void operator()(std::string_view& v) const {
    v = std::string_view(reinterpret_cast<const char*>(at(v.data())), v.size());
  }
};

}  // namespace

void rebase(Record& record, std::uintptr_t from, const std::byte* to) {
  const Rebaser move{from, to};
  std::visit(
      [&move](auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, SampleRecord>) {
          move(r.callchain);
          move(r.regs_user);
          move(r.stack_user);
        } else if constexpr (std::is_same_v<T, MmapRecord>) {
          move(r.build_id);
          move(r.filename);
        } else if constexpr (std::is_same_v<T, CommRecord>) {
          move(r.comm);
        }
      },
      record.body);
}

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kTruncated: return "truncated record";
    case DecodeError::kSizeMismatch: return "record size disagrees with its fields";
    case DecodeError::kFieldOverflow: return "field runs past the end of the record";
    case DecodeError::kBadString: return "name without terminating NUL";
    case DecodeError::kBadField: return "impossible field value";
    case DecodeError::kUnsupportedFormat: return "unsupported sample format";
  }
  return "unknown decode error";
}

std::expected<Record, DecodeError> decode_record(std::span<const std::byte> bytes,
                                                 const SampleFormat& format) {
  if (!format.supported()) return std::unexpected(DecodeError::kUnsupportedFormat);
  if (bytes.size() < kRecordHeaderSize) return std::unexpected(DecodeError::kTruncated);
  RecordHeader h = read_record_header(bytes.data());
  if (h.size < kRecordHeaderSize) return std::unexpected(DecodeError::kTruncated);
  if (h.size != bytes.size()) {
    return std::unexpected(h.size > bytes.size() ? DecodeError::kTruncated
                                                 : DecodeError::kSizeMismatch);
  }
  // The kernel pads every record to a multiple of 8 bytes; any other size is not its writing.
  if (h.size % 8 != 0) return std::unexpected(DecodeError::kSizeMismatch);
  Record rec;
  rec.type = h.type;
  rec.misc = h.misc;
  rec.size = h.size;
  std::span<const std::byte> body = bytes.subspan(kRecordHeaderSize);

  auto type = static_cast<RecordType>(h.type);
  if (type == RecordType::kSample) {
    auto s = decode_sample(body, h.misc, format);
    if (!s) return std::unexpected(s.error());
    rec.body = *s;
    return rec;
  }

  // Known non-sample records end with the sample_id trailer; split it off first.
  switch (type) {
    case RecordType::kMmap:
    case RecordType::kMmap2:
    case RecordType::kComm:
    case RecordType::kFork:
    case RecordType::kExit:
    case RecordType::kLost:
    case RecordType::kLostSamples:
    case RecordType::kThrottle:
    case RecordType::kUnthrottle:
    case RecordType::kSwitch:
    case RecordType::kSwitchCpuWide: break;
    default:
      rec.body = UnknownRecord{h.type};
      return rec;
  }
  size_t trailer_size = format.sample_id_size();
  if (body.size() < trailer_size) return std::unexpected(DecodeError::kTruncated);
  SampleId sid = parse_sample_id(body.last(trailer_size), format);
  body = body.first(body.size() - trailer_size);

  switch (type) {
    case RecordType::kMmap:
    case RecordType::kMmap2: {
      auto m = decode_mmap(body, h.misc, type == RecordType::kMmap2);
      if (!m) return std::unexpected(m.error());
      m->sid = sid;
      rec.body = *m;
      return rec;
    }
    case RecordType::kComm: {
      auto r = decode_comm(body, h.misc);
      if (!r) return std::unexpected(r.error());
      r->sid = sid;
      rec.body = *r;
      return rec;
    }
    case RecordType::kFork:
    case RecordType::kExit: {
      auto r = exact(body, 24, [&](Cursor& c) {
        TaskRecord t;
        t.sid = sid;
        t.exit = type == RecordType::kExit;
        t.pid = static_cast<int32_t>(c.u32());
        t.ppid = static_cast<int32_t>(c.u32());
        t.tid = static_cast<int32_t>(c.u32());
        t.ptid = static_cast<int32_t>(c.u32());
        t.time = c.u64();
        // Without sample_id_all the record's own time field still orders it.
        if (!t.sid.has_time) {
          t.sid.time = t.time;
          t.sid.has_time = true;
        }
        return t;
      });
      if (!r) return std::unexpected(r.error());
      rec.body = *r;
      return rec;
    }
    case RecordType::kLost: {
      auto r = exact(body, 16, [&](Cursor& c) {
        LostRecord l;
        l.sid = sid;
        l.id = c.u64();
        l.lost = c.u64();
        return l;
      });
      if (!r) return std::unexpected(r.error());
      rec.body = *r;
      return rec;
    }
    case RecordType::kLostSamples: {
      auto r = exact(body, 8, [&](Cursor& c) {
        LostSamplesRecord l;
        l.sid = sid;
        l.lost = c.u64();
        return l;
      });
      if (!r) return std::unexpected(r.error());
      rec.body = *r;
      return rec;
    }
    case RecordType::kThrottle:
    case RecordType::kUnthrottle: {
      auto r = exact(body, 24, [&](Cursor& c) {
        ThrottleRecord t;
        t.sid = sid;
        t.throttle = type == RecordType::kThrottle;
        t.time = c.u64();
        t.id = c.u64();
        t.stream_id = c.u64();
        return t;
      });
      if (!r) return std::unexpected(r.error());
      rec.body = *r;
      return rec;
    }
    case RecordType::kSwitch:
    case RecordType::kSwitchCpuWide: {
      const bool wide = type == RecordType::kSwitchCpuWide;
      auto r = exact(body, wide ? 8 : 0, [&](Cursor& c) {
        SwitchRecord w;
        w.sid = sid;
        w.out = (h.misc & kMiscSwitchOut) != 0;
        w.preempted = w.out && (h.misc & kMiscSwitchOutPreempt) != 0;
        if (wide) {
          w.other_pid = static_cast<int32_t>(c.u32());
          w.other_tid = static_cast<int32_t>(c.u32());
        }
        return w;
      });
      if (!r) return std::unexpected(r.error());
      rec.body = *r;
      return rec;
    }
    default: break;
  }
  rec.body = UnknownRecord{h.type};
  return rec;
}

std::optional<StackCut> stack_cut(const SampleRecord& sample, std::span<const std::byte> bytes, uint64_t keep) {
  if (sample.stack_user.empty()) return std::nullopt;
  const std::byte* size_word = sample.stack_user.data() - 8;
  const std::byte* stack_end = sample.stack_user.data() + sample.stack_user.size();
  if (size_word < bytes.data() || stack_end + 8 != bytes.data() + bytes.size()) return std::nullopt;
  keep = (keep + 7) & ~uint64_t{7};
  if (keep >= sample.stack_user.size()) return std::nullopt;
  return StackCut{static_cast<size_t>(size_word - bytes.data()), keep};
}

std::optional<StackCut> used_stack_cut(const SampleRecord& sample, std::span<const std::byte> bytes) {
  const uint64_t used = (sample.stack_user_dynamic_size + 7) & ~uint64_t{7};
  if (used + 256 >= sample.stack_user.size()) return std::nullopt;  // little to gain
  return stack_cut(sample, bytes, used);
}

Record write_stack_cut(const StackCut& cut, const Record& record, std::span<const std::byte> bytes,
                       std::span<std::byte> out) {
  const auto& sample = std::get<SampleRecord>(record.body);
  const uint64_t dynamic = std::min(sample.stack_user_dynamic_size, cut.keep);
  std::byte* o = out.data();
  std::memcpy(o, bytes.data(), cut.head);
  std::memcpy(o + cut.head, &cut.keep, 8);
  if (cut.keep != 0) {
    std::memcpy(o + cut.head + 8, sample.stack_user.data(), cut.keep);
    std::memcpy(o + cut.head + 8 + cut.keep, &dynamic, 8);
  }
  const auto size = static_cast<uint16_t>(cut.size());
  std::memcpy(o + 6, &size, 2);  // perf_event_header.size
  Record moved = record;
  moved.size = size;
  rebase(moved, reinterpret_cast<std::uintptr_t>(bytes.data()), o);
  auto& s = std::get<SampleRecord>(moved.body);
  s.stack_user = cut.keep != 0 ? std::span<const std::byte>(o + cut.head + 8, cut.keep) : std::span<const std::byte>();
  s.stack_user_dynamic_size = cut.keep != 0 ? dynamic : 0;
  return moved;
}

}  // namespace ember::collector
