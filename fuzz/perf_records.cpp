// The perf record decoder over a stream of records as a ring buffer holds them, and the reorder
// queue that keeps decoded records and hands them out later with their views moved to its copy;
// samples are queued whole or with their stack copy cut (written into the queue in place).
//
// Input: one byte choosing the sample format (bit 0: DWARF mode with user registers and stack,
// as `ember record --call-graph dwarf` asks for), then records back to back, each starting with
// its 8-byte header (type, misc, size).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "collector/record_decoder.h"
#include "collector/reorder_queue.h"
#include "collector/unwinder.h"

namespace {

using namespace ember::collector;

SampleFormat format_for(uint8_t selector) {
  SampleFormat f;
  f.sample_type = kSampleIdentifier | kSampleIp | kSampleTid | kSampleTime | kSampleCpu | kSamplePeriod |
                  kSampleCallchain;
  if (selector & 1) {
    f.sample_type |= kSampleRegsUser | kSampleStackUser;
    f.regs_user_mask = 0x1ff | (0xff << 16);  // kX86UserRegsMask: what the DWARF unwinder asks for
  }
  f.sample_id_all = (selector & 2) == 0;
  return f;
}

// Reads every byte a view points at: under ASan a view left pointing at a dead copy fails here.
uint64_t touch(const Record& r) {
  uint64_t sum = r.time();
  auto bytes = [&sum](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) sum += static_cast<const unsigned char*>(p)[i];
  };
  if (const auto* s = std::get_if<SampleRecord>(&r.body)) {
    for (size_t i = 0; i < s->callchain.size(); ++i) sum += s->callchain[i];
    for (size_t i = 0; i < s->regs_user.size(); ++i) sum += s->regs_user[i];
    bytes(s->stack_user.data(), s->stack_user.size());
    SplitCallchain split = split_callchain(*s);
    sum += split.kernel.size() + split.user.size();
  } else if (const auto* m = std::get_if<MmapRecord>(&r.body)) {
    bytes(m->filename.data(), m->filename.size());
    bytes(m->build_id.data(), m->build_id.size());
  } else if (const auto* c = std::get_if<CommRecord>(&r.body)) {
    bytes(c->comm.data(), c->comm.size());
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const SampleFormat format = format_for(data[0]);
  std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  volatile uint64_t sink = 0;
  // A small bound, so that inputs reach the queue's forced flushes too.
  ReorderQueue queue(4096, [&sink](const Record& r, std::span<const std::byte>) { sink = sink + touch(r); });
  size_t pushed = 0;
  while (rest.size() >= kRecordHeaderSize) {
    const RecordHeader h = read_record_header(rest.data());
    if (h.size < kRecordHeaderSize || h.size > rest.size()) break;  // what the ring reader refuses
    std::span<const std::byte> bytes = rest.first(h.size);
    auto record = decode_record(bytes, format);
    if (record) {
      sink = sink + touch(*record);
      const auto* sample = std::get_if<SampleRecord>(&record->body);
      // A sample queued with its stack copy cut (to its used part, or to nothing): the record
      // written in place must be the one its bytes decode to.
      std::optional<StackCut> cut;
      if (sample != nullptr) cut = (pushed % 2 == 0) ? used_stack_cut(*sample, bytes) : stack_cut(*sample, bytes, 0);
      if (cut) {
        std::span<std::byte> room = queue.reserve(cut->size());
        const Record moved = write_stack_cut(*cut, *record, bytes, room);
        auto decoded = decode_record(room, format);
        if (!decoded) __builtin_trap();
        const auto& a = std::get<SampleRecord>(moved.body);
        const auto& b = std::get<SampleRecord>(decoded->body);
        if (a.stack_user.data() != b.stack_user.data() || a.stack_user.size() != b.stack_user.size() ||
            a.stack_user_dynamic_size != b.stack_user_dynamic_size || a.callchain.data() != b.callchain.data() ||
            a.callchain.size() != b.callchain.size() || a.regs_user.data() != b.regs_user.data() ||
            a.sid.time != b.sid.time || a.ip != b.ip || moved.size != decoded->size) {
          __builtin_trap();
        }
        queue.commit(moved);
      } else {
        queue.push(*record, bytes);
      }
      if (++pushed % 7 == 0) queue.flush_until(record->time());
    } else {
      (void)to_string(record.error());
    }
    rest = rest.subspan(h.size);
  }
  queue.flush_all();
  return 0;
}
