#include "collector/ring_buffer.h"

#include <gtest/gtest.h>

#include <random>

#include "record_encoder.h"

namespace ember::collector {
namespace {

using test::Bytes;

// An in-memory ring with the kernel's layout rules: head and tail are free-running byte
// counts, data wraps at `size` (a power of two).
class FakeRing {
 public:
  explicit FakeRing(size_t size) : data_(size) {}

  RingLayout layout() { return RingLayout{&head_, &tail_, data_.data(), data_.size()}; }

  // Writes bytes at head, wrapping, as the kernel does.
  void produce(const Bytes& record) {
    for (size_t i = 0; i < record.size(); ++i) data_[(head_ + i) % data_.size()] = record[i];
    head_ += record.size();
  }
  uint64_t head() const { return head_; }
  uint64_t tail() const { return tail_; }
  void set_head(uint64_t h) { head_ = h; }
  void set_tail(uint64_t t) { tail_ = t; }

 private:
  uint64_t head_ = 0;
  uint64_t tail_ = 0;
  std::vector<std::byte> data_;
};

Bytes lost_record(uint64_t n) { return test::encode_lost(test::ember_format(), 1, n, {}); }

std::vector<uint64_t> read_lost_counts(RingReader& reader, RingReadStats* stats_out = nullptr) {
  std::vector<uint64_t> out;
  RingReadStats stats = reader.read([&](std::span<const std::byte> bytes) {
    auto r = decode_record(bytes, test::ember_format());
    ASSERT_TRUE(r.has_value());
    out.push_back(std::get<LostRecord>(r->body).lost);
  });
  if (stats_out != nullptr) *stats_out = stats;
  return out;
}

TEST(RingReader, ReadsRecordsAndReleasesSpace) {
  FakeRing ring(256);
  RingReader reader(ring.layout());
  ring.produce(lost_record(1));
  ring.produce(lost_record(2));
  RingReadStats stats;
  EXPECT_EQ(read_lost_counts(reader, &stats), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(stats.records, 2u);
  EXPECT_EQ(stats.malformed, 0u);
  EXPECT_EQ(ring.tail(), ring.head());
  EXPECT_TRUE(read_lost_counts(reader).empty());
}

TEST(RingReader, RecordWrappingTheEndIsReassembled) {
  // A LOST record with ember's trailer is 56 bytes: in a 128-byte ring the third one wraps.
  FakeRing ring(128);
  RingReader reader(ring.layout());
  std::vector<uint64_t> all;
  for (uint64_t i = 1; i <= 20; ++i) {
    ring.produce(lost_record(i));
    if (i % 2 == 0) {
      auto got = read_lost_counts(reader);
      all.insert(all.end(), got.begin(), got.end());
    }
  }
  std::vector<uint64_t> expected;
  for (uint64_t i = 1; i <= 20; ++i) expected.push_back(i);
  EXPECT_EQ(all, expected);
}

TEST(RingReader, HeaderSplitAcrossTheEnd) {
  FakeRing ring(128);
  ring.set_head(124);  // the next record's 8-byte header straddles the end
  ring.set_tail(124);
  RingReader reader(ring.layout());
  ring.produce(lost_record(77));
  EXPECT_EQ(read_lost_counts(reader), (std::vector<uint64_t>{77}));
}

TEST(RingReader, SizeLargerThanAvailableSkipsTheRest) {
  FakeRing ring(256);
  RingReader reader(ring.layout());
  Bytes bad = lost_record(5);
  test::set_size_field(bad, 200);  // claims more than the producer wrote
  ring.produce(bad);
  RingReadStats stats;
  EXPECT_TRUE(read_lost_counts(reader, &stats).empty());
  EXPECT_EQ(stats.malformed, 1u);
  EXPECT_EQ(ring.tail(), ring.head());  // consumed: the ring does not stay stuck
  ring.produce(lost_record(6));
  EXPECT_EQ(read_lost_counts(reader), (std::vector<uint64_t>{6}));
}

TEST(RingReader, SizeSmallerThanHeaderSkipsTheRest) {
  FakeRing ring(256);
  RingReader reader(ring.layout());
  Bytes bad = lost_record(5);
  test::set_size_field(bad, 0);  // would loop forever if trusted
  ring.produce(lost_record(4));
  ring.produce(bad);
  RingReadStats stats;
  EXPECT_EQ(read_lost_counts(reader, &stats), (std::vector<uint64_t>{4}));
  EXPECT_EQ(stats.malformed, 1u);
  EXPECT_EQ(ring.tail(), ring.head());
}

TEST(RingReader, HeadFurtherThanTheRingIsDiscarded) {
  FakeRing ring(128);
  RingReader reader(ring.layout());
  ring.set_head(4096);
  RingReadStats stats;
  EXPECT_TRUE(read_lost_counts(reader, &stats).empty());
  EXPECT_EQ(stats.malformed, 1u);
  EXPECT_EQ(ring.tail(), 4096u);
}

TEST(RingReader, PartialHeaderIsDiscarded) {
  FakeRing ring(128);
  RingReader reader(ring.layout());
  ring.set_head(4);
  RingReadStats stats;
  EXPECT_TRUE(read_lost_counts(reader, &stats).empty());
  EXPECT_EQ(stats.malformed, 1u);
}

}  // namespace
}  // namespace ember::collector

namespace ember::collector {
namespace {

// Garbage in the ring and a garbage head: the reader hands out only spans inside its data or
// scratch, always ends, and leaves the tail at the head.
TEST(RingReader, GarbageNeverHangsOrEscapes) {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 2000; ++round) {
    FakeRing ring(256);
    RingReader reader(ring.layout());
    test::Bytes junk(256);
    for (auto& b : junk) b = static_cast<std::byte>(rng());
    ring.produce(junk);
    ring.set_tail(rng() % 512);
    ring.set_head(ring.tail() + rng() % 300);
    size_t bytes = 0;
    reader.read([&](std::span<const std::byte> r) { bytes += r.size(); });
    EXPECT_EQ(ring.tail(), ring.head());
    EXPECT_LE(bytes, 300u);
  }
}

}  // namespace
}  // namespace ember::collector

namespace ember::collector {
namespace {

TEST(RingReader, ChunkedReadsReleaseSpaceAsTheyGo) {
  FakeRing ring(1024);
  RingReader reader(ring.layout());
  for (uint64_t i = 1; i <= 10; ++i) ring.produce(lost_record(i));  // 56 bytes each
  std::vector<uint64_t> got;
  auto collect = [&](std::span<const std::byte> bytes) {
    got.push_back(std::get<LostRecord>(decode_record(bytes, test::ember_format())->body).lost);
  };
  RingReadStats first = reader.read(collect, 100);  // stops after the record that reaches 100 bytes
  EXPECT_FALSE(first.drained);
  EXPECT_EQ(first.records, 2u);
  EXPECT_EQ(ring.tail(), 112u);  // the space of what was read is released now
  RingReadStats rest = reader.read(collect, SIZE_MAX);
  EXPECT_TRUE(rest.drained);
  EXPECT_EQ(rest.records, 8u);
  EXPECT_EQ(got.size(), 10u);
  EXPECT_EQ(got.back(), 10u);
}

}  // namespace
}  // namespace ember::collector
