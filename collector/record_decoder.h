#pragma once
// Decoding of perf ring-buffer records: a pure function over bytes, so that tests can feed it
// synthesized records (well-formed, truncated, oversized, lying) without a kernel.
//
// The kernel ABI numbers below are restated here so that this header (and the tests) need not
// include <linux/perf_event.h>; record_decoder.cpp checks each one against the kernel header.
// Views in a decoded record point into the bytes given to decode_record().

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <expected>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace ember::collector {

// PERF_RECORD_* types ember reads.
enum class RecordType : uint32_t {
  kMmap = 1,
  kLost = 2,
  kComm = 3,
  kExit = 4,
  kThrottle = 5,
  kUnthrottle = 6,
  kFork = 7,
  kSample = 9,
  kMmap2 = 10,
  kLostSamples = 13,
  kSwitch = 14,         // attr.context_switch on a per-task event: this task in or out
  kSwitchCpuWide = 15,  // the same on a per-CPU event, naming the other task
};

// PERF_SAMPLE_* bits the decoder understands. Others are refused by SampleFormat::validate.
inline constexpr uint64_t kSampleIp = 1u << 0;
inline constexpr uint64_t kSampleTid = 1u << 1;
inline constexpr uint64_t kSampleTime = 1u << 2;
inline constexpr uint64_t kSampleAddr = 1u << 3;
inline constexpr uint64_t kSampleId = 1u << 6;
inline constexpr uint64_t kSampleCpu = 1u << 7;
inline constexpr uint64_t kSamplePeriod = 1u << 8;
inline constexpr uint64_t kSampleStreamId = 1u << 9;
inline constexpr uint64_t kSampleCallchain = 1u << 5;
inline constexpr uint64_t kSampleRegsUser = 1u << 12;
inline constexpr uint64_t kSampleStackUser = 1u << 13;
inline constexpr uint64_t kSampleIdentifier = 1u << 16;

// PERF_RECORD_MISC_* bits.
inline constexpr uint16_t kMiscCpuModeMask = 7;
inline constexpr uint16_t kMiscKernel = 1;
inline constexpr uint16_t kMiscUser = 2;
inline constexpr uint16_t kMiscCommExec = 1u << 13;
inline constexpr uint16_t kMiscMmapBuildId = 1u << 14;
inline constexpr uint16_t kMiscSwitchOut = 1u << 13;
inline constexpr uint16_t kMiscSwitchOutPreempt = 1u << 14;  // switched out while runnable

// PERF_CONTEXT_* markers inside a callchain: every value at or above kContextMax is a marker.
inline constexpr uint64_t kContextKernel = static_cast<uint64_t>(-128);
inline constexpr uint64_t kContextUser = static_cast<uint64_t>(-512);
inline constexpr uint64_t kContextMax = static_cast<uint64_t>(-4095);

inline constexpr size_t kRecordHeaderSize = 8;
inline constexpr size_t kMaxBuildIdSize = 20;

// How SAMPLE records are laid out and what trails the other records (sample_id_all).
struct SampleFormat {
  uint64_t sample_type = 0;
  uint64_t regs_user_mask = 0;  // PERF_SAMPLE_REGS_USER: which registers, one u64 each
  bool sample_id_all = true;

  // false when sample_type holds a bit the decoder cannot skip over.
  bool supported() const;
  // Bytes of the sample_id trailer on non-sample records.
  size_t sample_id_size() const;
};

// An array of u64 inside a record. Read through memcpy: record bytes need not be aligned.
class U64View {
 public:
  U64View() = default;
  U64View(const std::byte* data, size_t count) : data_(data), count_(count) {}
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // count values from index `first`; the caller keeps first + count <= size().
  U64View slice(size_t first, size_t count) const { return U64View(data_ + first * 8, count); }
  const std::byte* data() const { return data_; }
  uint64_t operator[](size_t i) const {
    uint64_t v;
    std::memcpy(&v, data_ + i * 8, 8);
    return v;
  }

 private:
  const std::byte* data_ = nullptr;
  size_t count_ = 0;
};

// The fields sample_id_all appends to non-sample records (and that samples carry inline).
struct SampleId {
  int32_t pid = -1;
  int32_t tid = -1;
  uint64_t time = 0;
  uint64_t id = 0;
  uint64_t stream_id = 0;
  uint32_t cpu = 0;
  bool has_time = false;
};

enum class CpuMode : uint8_t { kUnknown, kKernel, kUser, kOther };

struct SampleRecord {
  SampleId sid;
  CpuMode mode = CpuMode::kUnknown;
  uint64_t ip = 0;
  uint64_t addr = 0;
  uint64_t period = 0;
  U64View callchain;  // with PERF_CONTEXT_* markers, as the kernel wrote it
  uint64_t regs_abi = 0;
  U64View regs_user;
  std::span<const std::byte> stack_user;  // the copied bytes (size as recorded)
  uint64_t stack_user_dynamic_size = 0;   // how much of it is valid
};

struct MmapRecord {
  SampleId sid;
  CpuMode mode = CpuMode::kUnknown;
  bool is_mmap2 = false;
  int32_t pid = 0;
  int32_t tid = 0;
  uint64_t start = 0;
  uint64_t length = 0;
  uint64_t page_offset = 0;
  bool has_build_id = false;  // MMAP2 with PERF_RECORD_MISC_MMAP_BUILD_ID
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t inode = 0;
  uint64_t inode_generation = 0;
  std::span<const std::byte> build_id;
  uint32_t prot = 0;   // MMAP2 only
  uint32_t flags = 0;  // MMAP2 only
  std::string_view filename;
};

struct CommRecord {
  SampleId sid;
  int32_t pid = 0;
  int32_t tid = 0;
  bool exec = false;  // the task exec'd (PERF_RECORD_MISC_COMM_EXEC)
  std::string_view comm;
};

// FORK and EXIT share a layout.
struct TaskRecord {
  SampleId sid;
  bool exit = false;
  int32_t pid = 0;
  int32_t ppid = 0;
  int32_t tid = 0;
  int32_t ptid = 0;
  uint64_t time = 0;
};

struct LostRecord {
  SampleId sid;
  uint64_t id = 0;
  uint64_t lost = 0;
};

struct LostSamplesRecord {
  SampleId sid;
  uint64_t lost = 0;
};

struct ThrottleRecord {
  SampleId sid;
  bool throttle = true;  // false: UNTHROTTLE
  uint64_t time = 0;
  uint64_t id = 0;
  uint64_t stream_id = 0;
};

// SWITCH / SWITCH_CPU_WIDE: the task of the sample_id went off (out) or onto (in) a CPU.
struct SwitchRecord {
  SampleId sid;
  bool out = false;
  bool preempted = false;  // out while runnable (PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
  int32_t other_pid = -1;  // SWITCH_CPU_WIDE: the next (out) or previous (in) task
  int32_t other_tid = -1;
};

struct UnknownRecord {
  uint32_t type = 0;
};

using RecordBody = std::variant<SampleRecord, MmapRecord, CommRecord, TaskRecord, LostRecord,
                                LostSamplesRecord, ThrottleRecord, SwitchRecord, UnknownRecord>;

struct Record {
  uint32_t type = 0;
  uint16_t misc = 0;
  uint16_t size = 0;
  RecordBody body;

  // The record's timestamp (from the sample or the sample_id trailer), when it has one.
  bool has_time() const;
  uint64_t time() const;
};

enum class DecodeError {
  kTruncated,      // shorter than its header or fixed fields
  kSizeMismatch,   // header.size disagrees with the bytes given
  kFieldOverflow,  // a count or size inside the record runs past its end
  kBadString,      // a name without its terminating NUL
  kBadField,       // a field holds an impossible value (build-id longer than 20 bytes, ...)
  kUnsupportedFormat,
};

std::string_view to_string(DecodeError error);

// Decodes one record. `bytes` must be exactly the record (header.size bytes). Never reads outside
// `bytes`; every count and size inside is checked before use.
[[nodiscard]] std::expected<Record, DecodeError> decode_record(std::span<const std::byte> bytes,
                                                 const SampleFormat& format);

// A sample's record with its user stack copy cut short: the copy is the record's last field
// (ember asks for nothing after it), so the cut record is the head up to the copy's size word, a
// new size, the first `keep` bytes of the copy and its dynamic size (nothing after a size of 0,
// as the kernel writes a sample without a stack). Planned first and then written straight into
// the reorder queue (ReorderQueue::reserve), so a queued record is copied once.
struct StackCut {
  size_t head = 0;    // bytes before the copy's size word
  uint64_t keep = 0;  // bytes of the copy kept, a multiple of 8
  size_t size() const { return head + 8 + keep + (keep != 0 ? 8 : 0); }
};

// The cut keeping `keep` bytes (rounded up to 8); nullopt when it would not be shorter or the
// copy is not the record's last field.
std::optional<StackCut> stack_cut(const SampleRecord& sample, std::span<const std::byte> bytes, uint64_t keep);
// The cut keeping what the kernel says was in use (the dynamic size): all that unwinding reads,
// a few KiB of a 32 KiB copy. nullopt when there is little to gain.
std::optional<StackCut> used_stack_cut(const SampleRecord& sample, std::span<const std::byte> bytes);
// Writes the cut of `record` (a sample decoded from `bytes`) into `out`, of cut.size() bytes,
// and returns the record as decoding `out` would give it, without decoding it again: the fields
// before the stack copy lie where they lay.
Record write_stack_cut(const StackCut& cut, const Record& record, std::span<const std::byte> bytes,
                       std::span<std::byte> out);

// Points a decoded record's views at a copy of its bytes. `from` is the address the record was
// decoded from (only an address: those bytes may be gone by now), `to` where the same bytes are
// now. This is what lets a record be decoded once and applied later from a queue. A record type
// that gains a view (span, string_view, U64View) lists it in rebase().
void rebase(Record& record, std::uintptr_t from, const std::byte* to);

// Reads the 8-byte header of a record: type, misc, size.
struct RecordHeader {
  uint32_t type = 0;
  uint16_t misc = 0;
  uint16_t size = 0;
};
inline RecordHeader read_record_header(const std::byte* p) {
  RecordHeader h;
  std::memcpy(&h.type, p, 4);
  std::memcpy(&h.misc, p + 4, 2);
  std::memcpy(&h.size, p + 6, 2);
  return h;
}

}  // namespace ember::collector
