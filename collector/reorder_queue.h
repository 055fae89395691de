#pragma once
// Puts records from the per-CPU rings back into time order before they are applied, so that
// an MMAP2, COMM, FORK or EXIT is seen before the samples that come after it (perf's
// ordered-events). A record is pushed decoded, with the bytes it was decoded from: the bytes are
// copied in and the record's views are pointed at the copy when it is handed out, so each record
// is decoded once. flush_until(t) hands out, oldest first, every record with time <= t. The
// caller picks t so that nothing older can still arrive (see Recorder).
//
// Memory is bounded: when the queue holds more than max_bytes, the oldest half is handed out at
// once (counted as a forced flush). A record older than what was already handed out is still
// delivered, at the next flush, and counted as out of order.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "collector/record_decoder.h"

namespace ember::collector {

struct ReorderStats {
  uint64_t queued = 0;
  uint64_t out_of_order = 0;    // arrived with a time below the last flush
  uint64_t forced_flushes = 0;  // the memory bound handed records out early
};

class ReorderQueue {
 public:
  // The record's views point into the queue's copy of its bytes, `bytes`, valid during the call.
  using Sink = std::function<void(const Record& record, std::span<const std::byte> bytes)>;

  ReorderQueue(size_t max_bytes, Sink sink) : max_bytes_(max_bytes), sink_(std::move(sink)) {}

  // Queues `record`, decoded from `raw` (copied in), at record.time().
  void push(const Record& record, std::span<const std::byte> raw);
  // Room for a record of `size` bytes in the queue's own memory, for a record put together
  // there (a stack copy cut short, StackCut) instead of copied in from a buffer: it is then
  // decoded from these bytes and queued with commit(). Valid until the next call; a reserve
  // that is not committed is forgotten.
  std::span<std::byte> reserve(size_t size);
  // Queues `record`, decoded from the bytes of the last reserve(), at record.time().
  void commit(const Record& record);
  // Hands out, in time order (ties in arrival order), every record with time <= limit.
  void flush_until(uint64_t limit);
  void flush_all();

  size_t size() const { return keys_.size(); }
  // Bytes of the records held (the arena may hold as much again of records already handed out).
  size_t bytes() const { return (arena_.size - dead_words_) * sizeof(uint64_t); }
  uint64_t last_flushed_time() const { return last_flush_; }
  const ReorderStats& stats() const { return stats_; }

 private:
  // A queued record, in arrival order; its bytes lie in arena_.
  struct Held {
    uint32_t offset;        // in u64 words into arena_
    uint32_t size;          // bytes
    std::uintptr_t origin;  // where record's views point: the bytes it was decoded from
    Record record;
    bool out = false;       // handed out: dead until the next compaction
  };
  // The order records are handed out in, small enough to sort: a Held is ~250 bytes.
  struct Key {
    uint64_t time;
    uint64_t seq;   // arrival order, to keep ties stable
    uint32_t held;  // index into held_
  };
  // Growable u64 words, not zero-filled: every word is written by the record copied in.
  struct Words {
    std::unique_ptr<uint64_t[]> data;
    size_t size = 0;
    size_t capacity = 0;
    uint64_t* append(size_t words);
    uint64_t* room(size_t words);  // at data + size, not counted in size
  };
  // Queues the reserved bytes as `record`, whose views point into `origin` for now.
  void queue_reserved(const Record& record, std::uintptr_t origin);
  void sort();
  // Hands out the first `count` keys. The sink must not push: the record it is handed lies in
  // the arena a push may move.
  void flush_count(size_t count, uint64_t new_last_flush);
  void compact();

  size_t max_bytes_;
  Sink sink_;
  Words arena_;             // records stay 8-byte aligned
  size_t reserved_ = 0;     // bytes of the last reserve(), at arena_.size
  size_t dead_words_ = 0;   // of records already handed out, until the next compaction
  std::vector<Held> held_;
  size_t dead_held_ = 0;
  // Keys of the records held: [0, sorted_) in time order, the rest as they arrived (each ring's
  // records come in time order, so sorting the new ones and merging is all a flush needs).
  std::vector<Key> keys_;
  size_t sorted_ = 0;
  // Reused between compactions (their capacity is kept): no allocation churn.
  Words spare_arena_;
  std::vector<Held> spare_held_;
  std::vector<uint32_t> moved_to_;
  uint64_t next_seq_ = 0;
  uint64_t last_flush_ = 0;
  ReorderStats stats_;
};

}  // namespace ember::collector
