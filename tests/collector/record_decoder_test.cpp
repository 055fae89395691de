#include "collector/record_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <deque>
#include <random>

#include "record_encoder.h"

namespace ember::collector {
namespace {

using test::Bytes;
using test::Encoder;

const SampleFormat kFormat = test::ember_format();

// Decoded records point into their bytes: keep every encoded record alive for the whole test.
std::expected<Record, DecodeError> decode_kept(Bytes bytes, const SampleFormat& format = kFormat) {
  static std::deque<Bytes> kept;
  kept.push_back(std::move(bytes));
  return decode_record(kept.back(), format);
}

template <class T>
const T& body_as(const Record& r) {
  const T* p = std::get_if<T>(&r.body);
  EXPECT_NE(p, nullptr);
  static const T empty{};
  return p != nullptr ? *p : empty;
}

TEST(RecordDecoder, SampleRoundTrip) {
  test::SampleValues v;
  v.id = {100, 101, 123456789, 42, 1};
  v.ip = 0x401234;
  v.period = 1001001;
  v.callchain = {kContextKernel, 0xffffffff81000010, 0xffffffff81000020, kContextUser, 0x401234, 0x401500};
  Bytes bytes = test::encode_sample(kFormat, v);
  auto r = decode_record(bytes, kFormat);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_EQ(r->type, static_cast<uint32_t>(RecordType::kSample));
  EXPECT_TRUE(r->has_time());
  EXPECT_EQ(r->time(), 123456789u);
  const auto& s = body_as<SampleRecord>(*r);
  EXPECT_EQ(s.sid.pid, 100);
  EXPECT_EQ(s.sid.tid, 101);
  EXPECT_EQ(s.sid.id, 42u);
  EXPECT_EQ(s.sid.cpu, 1u);
  EXPECT_EQ(s.ip, 0x401234u);
  EXPECT_EQ(s.period, 1001001u);
  EXPECT_EQ(s.mode, CpuMode::kUser);
  ASSERT_EQ(s.callchain.size(), v.callchain.size());
  for (size_t i = 0; i < v.callchain.size(); ++i) EXPECT_EQ(s.callchain[i], v.callchain[i]);
}

TEST(RecordDecoder, SampleWithUserRegistersAndStack) {
  SampleFormat f = kFormat;
  f.sample_type |= kSampleRegsUser | kSampleStackUser;
  f.regs_user_mask = 0b1011;  // three registers
  test::SampleValues v;
  v.id = {7, 8, 99, 1, 0};
  v.callchain = {kContextKernel, 0xffffffff81000010};
  v.regs_abi = 2;  // PERF_SAMPLE_REGS_ABI_64
  v.regs = {0x11, 0x22, 0x33};
  v.stack.resize(64, std::byte{0xab});
  v.stack_dynamic_size = 40;
  Bytes bytes = test::encode_sample(f, v);
  auto r = decode_record(bytes, f);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const auto& s = body_as<SampleRecord>(*r);
  ASSERT_EQ(s.regs_user.size(), 3u);
  EXPECT_EQ(s.regs_user[2], 0x33u);
  EXPECT_EQ(s.stack_user.size(), 64u);
  EXPECT_EQ(s.stack_user_dynamic_size, 40u);

  // A kernel thread: ABI_NONE, no registers, an empty stack.
  v.regs_abi = 0;
  v.stack.clear();
  bytes = test::encode_sample(f, v);
  r = decode_record(bytes, f);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_TRUE(body_as<SampleRecord>(*r).regs_user.empty());
  EXPECT_TRUE(body_as<SampleRecord>(*r).stack_user.empty());
}

const SampleFormat kFormatWithStack = [] {
  SampleFormat f = kFormat;
  f.sample_type |= kSampleRegsUser | kSampleStackUser;
  f.regs_user_mask = 0b11;
  return f;
}();

// The sample cut to the used part of its stack copy, as the Recorder queues it. The record
// write_stack_cut gives back must be what decoding the cut bytes gives, views and all.
std::vector<std::byte> cut_used(const Record& full, std::span<const std::byte> bytes) {
  const auto& sample = body_as<SampleRecord>(full);
  auto cut = used_stack_cut(sample, bytes);
  EXPECT_TRUE(cut.has_value());
  if (!cut) return {};
  std::vector<std::byte> out(cut->size());
  const Record moved = write_stack_cut(*cut, full, bytes, out);
  const auto decoded = decode_record(out, kFormatWithStack);
  EXPECT_TRUE(decoded.has_value());
  if (!decoded) return out;
  const auto& a = body_as<SampleRecord>(moved);
  const auto& b = body_as<SampleRecord>(*decoded);
  EXPECT_EQ(moved.size, decoded->size);
  EXPECT_EQ(a.sid.tid, b.sid.tid);
  EXPECT_EQ(a.sid.time, b.sid.time);
  EXPECT_EQ(a.ip, b.ip);
  EXPECT_EQ(a.regs_abi, b.regs_abi);
  EXPECT_EQ(a.regs_user.data(), b.regs_user.data());
  EXPECT_EQ(a.regs_user.size(), b.regs_user.size());
  EXPECT_EQ(a.stack_user.data(), b.stack_user.data());
  EXPECT_EQ(a.stack_user.size(), b.stack_user.size());
  EXPECT_EQ(a.stack_user_dynamic_size, b.stack_user_dynamic_size);
  return out;
}

TEST(RecordDecoder, AStackCopyIsTrimmedToItsUsedPartAndDecodesTheSame) {
  const SampleFormat f = kFormatWithStack;
  test::SampleValues v;
  v.id = {7, 8, 99, 1, 0};
  v.ip = 0x401000;
  v.regs_abi = 2;
  v.regs = {0x11, 0x22};
  v.stack.resize(32768);
  for (size_t i = 0; i < v.stack.size(); ++i) v.stack[i] = static_cast<std::byte>(i * 7);
  v.stack_dynamic_size = 1001;  // rounded up to 1008 bytes kept
  Bytes bytes = test::encode_sample(f, v);
  auto full = decode_record(bytes, f);
  ASSERT_TRUE(full.has_value());
  const std::vector<std::byte> trimmed = cut_used(*full, bytes);
  ASSERT_EQ(trimmed.size(), bytes.size() - (32768 - 1008));
  auto r = decode_record(trimmed, f);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const auto& s = body_as<SampleRecord>(*r);
  EXPECT_EQ(s.sid.tid, 8u);
  EXPECT_EQ(s.ip, 0x401000u);
  EXPECT_EQ(s.regs_user[1], 0x22u);
  EXPECT_EQ(s.stack_user_dynamic_size, 1001u);
  ASSERT_EQ(s.stack_user.size(), 1008u);
  EXPECT_TRUE(std::equal(s.stack_user.begin(), s.stack_user.end(), v.stack.begin()));

  // Nothing used (a thread in the kernel): no stack at all, as the kernel writes it.
  v.stack_dynamic_size = 0;
  bytes = test::encode_sample(f, v);
  full = decode_record(bytes, f);
  r = decode_record(cut_used(*full, bytes), f);
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  EXPECT_TRUE(body_as<SampleRecord>(*r).stack_user.empty());

  // A copy mostly used is kept as it is.
  v.stack_dynamic_size = 32700;
  bytes = test::encode_sample(f, v);
  full = decode_record(bytes, f);
  EXPECT_FALSE(used_stack_cut(body_as<SampleRecord>(*full), bytes).has_value());
}

TEST(RecordDecoder, StackDynamicSizeLargerThanStackIsRejected) {
  SampleFormat f = kFormat;
  f.sample_type |= kSampleStackUser;
  test::SampleValues v;
  v.stack.resize(16);
  v.stack_dynamic_size = 17;
  EXPECT_EQ(decode_kept(test::encode_sample(f, v), f).error(), DecodeError::kBadField);
}

TEST(RecordDecoder, Mmap2WithInodeRoundTrip) {
  test::MmapValues m;
  m.id = {300, 301, 5000, 9, 0};
  m.pid = 300;
  m.tid = 301;
  m.start = 0x7f0000001000;
  m.length = 0x2000;
  m.page_offset = 0x1000;
  m.major = 8;
  m.minor = 1;
  m.inode = 123456;
  m.inode_generation = 77;
  m.filename = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  auto r = decode_kept(test::encode_mmap2(kFormat, m));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const auto& d = body_as<MmapRecord>(*r);
  EXPECT_TRUE(d.is_mmap2);
  EXPECT_FALSE(d.has_build_id);
  EXPECT_EQ(d.pid, 300);
  EXPECT_EQ(d.start, 0x7f0000001000u);
  EXPECT_EQ(d.length, 0x2000u);
  EXPECT_EQ(d.page_offset, 0x1000u);
  EXPECT_EQ(d.major, 8u);
  EXPECT_EQ(d.minor, 1u);
  EXPECT_EQ(d.inode, 123456u);
  EXPECT_EQ(d.inode_generation, 77u);
  EXPECT_EQ(d.prot, 5u);
  EXPECT_EQ(d.filename, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  EXPECT_EQ(r->time(), 5000u);
}

TEST(RecordDecoder, Mmap2WithBuildIdRoundTrip) {
  test::MmapValues m;
  m.id = {1, 1, 10, 0, 0};
  m.pid = 1;
  m.start = 0x1000;
  m.length = 0x1000;
  m.build_id = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  m.filename = "/bin/true";
  auto r = decode_kept(test::encode_mmap2(kFormat, m));
  ASSERT_TRUE(r.has_value()) << to_string(r.error());
  const auto& d = body_as<MmapRecord>(*r);
  EXPECT_TRUE(d.has_build_id);
  ASSERT_EQ(d.build_id.size(), 20u);
  EXPECT_EQ(d.build_id[0], std::byte{0xde});
  EXPECT_EQ(d.build_id[19], std::byte{16});
  EXPECT_EQ(d.filename, "/bin/true");
}

TEST(RecordDecoder, Mmap2BuildIdSizeOver20IsRejected) {
  test::MmapValues m;
  m.build_id.assign(20, 1);
  m.filename = "/x";
  Bytes bytes = test::encode_mmap2(kFormat, m);
  bytes[8 + 32] = std::byte{21};  // build_id_size, right after pid, tid, addr, len, pgoff
  EXPECT_EQ(decode_record(bytes, kFormat).error(), DecodeError::kBadField);
}

TEST(RecordDecoder, FilenameWithoutNulIsRejected) {
  Encoder e;
  e.u32(1).u32(1).u64(0x1000).u64(0x1000).u64(0).u32(0).u32(0).u64(1).u64(0).u32(5).u32(2);
  e.raw("abcdefgh", 8);  // a name that fills its area with no terminator
  test::append_sample_id(e, kFormat, {});
  EXPECT_EQ(decode_record(e.finish(RecordType::kMmap2), kFormat).error(), DecodeError::kBadString);
}

TEST(RecordDecoder, CommExecFlag) {
  auto r = decode_kept(test::encode_comm(kFormat, 5, 6, "worker", true, {5, 6, 77, 0, 0}));
  ASSERT_TRUE(r.has_value());
  const auto& c = body_as<CommRecord>(*r);
  EXPECT_EQ(c.pid, 5);
  EXPECT_EQ(c.tid, 6);
  EXPECT_EQ(c.comm, "worker");
  EXPECT_TRUE(c.exec);
  EXPECT_EQ(r->time(), 77u);
  r = decode_kept(test::encode_comm(kFormat, 5, 6, "renamed-thread", false, {}));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(body_as<CommRecord>(*r).exec);
  EXPECT_EQ(body_as<CommRecord>(*r).comm, "renamed-thread");
}

TEST(RecordDecoder, ForkAndExit) {
  auto r = decode_kept(test::encode_task(kFormat, RecordType::kFork, 20, 10, 21, 11, {10, 11, 500, 0, 0}));
  ASSERT_TRUE(r.has_value());
  const auto& f = body_as<TaskRecord>(*r);
  EXPECT_FALSE(f.exit);
  EXPECT_EQ(f.pid, 20);
  EXPECT_EQ(f.ppid, 10);
  EXPECT_EQ(f.tid, 21);
  EXPECT_EQ(f.ptid, 11);
  EXPECT_EQ(f.time, 500u);
  r = decode_kept(test::encode_task(kFormat, RecordType::kExit, 20, 10, 20, 10, {20, 20, 900, 0, 0}));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(body_as<TaskRecord>(*r).exit);
  EXPECT_EQ(r->time(), 900u);
}

TEST(RecordDecoder, LostThrottleAndLostSamples) {
  auto r = decode_kept(test::encode_lost(kFormat, 3, 1234, {}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(body_as<LostRecord>(*r).lost, 1234u);
  EXPECT_EQ(body_as<LostRecord>(*r).id, 3u);
  r = decode_kept(test::encode_lost_samples(kFormat, 55, {}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(body_as<LostSamplesRecord>(*r).lost, 55u);
  r = decode_kept(test::encode_throttle(kFormat, true, 9, {1, 1, 42, 9, 0}));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(body_as<ThrottleRecord>(*r).throttle);
  EXPECT_EQ(body_as<ThrottleRecord>(*r).time, 42u);
  r = decode_kept(test::encode_throttle(kFormat, false, 9, {}));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(body_as<ThrottleRecord>(*r).throttle);
}

TEST(RecordDecoder, UnknownTypeIsReportedNotRejected) {
  Encoder e;
  e.u64(1).u64(2);
  auto r = decode_kept(e.finish_raw(17 /* PERF_RECORD_NAMESPACES */, 0));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(body_as<UnknownRecord>(*r).type, 17u);
  EXPECT_FALSE(r->has_time());
}

TEST(RecordDecoder, EveryTruncationOfEveryRecordIsRejectedWithoutCrash) {
  test::SampleValues sv;
  sv.callchain = {kContextUser, 0x1000, 0x2000};
  test::MmapValues mv;
  mv.filename = "/lib/libx.so";
  const std::vector<Bytes> records = {
      test::encode_sample(kFormat, sv),
      test::encode_mmap2(kFormat, mv),
      test::encode_comm(kFormat, 1, 1, "x", false, {}),
      test::encode_task(kFormat, RecordType::kFork, 1, 1, 2, 1, {}),
      test::encode_lost(kFormat, 1, 1, {}),
      test::encode_lost_samples(kFormat, 1, {}),
      test::encode_throttle(kFormat, true, 1, {}),
  };
  for (const Bytes& full : records) {
    for (size_t len = 0; len < full.size(); ++len) {
      // The bytes end early but the header still claims the full size.
      std::span<const std::byte> cut(full.data(), len);
      EXPECT_FALSE(decode_record(cut, kFormat).has_value()) << "length " << len;
      // The header agrees with the shorter length: the fields themselves run out.
      if (len >= kRecordHeaderSize) {
        Bytes shrunk(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
        test::set_size_field(shrunk, static_cast<uint16_t>(len));
        EXPECT_FALSE(decode_record(shrunk, kFormat).has_value()) << "length " << len;
      }
    }
  }
}

TEST(RecordDecoder, OversizedRecordsAreRejected) {
  // Trailing bytes after a fixed-size body mean a layout we did not ask for.
  Encoder e;
  e.u64(1).u64(2).u64(0xdead);
  test::append_sample_id(e, kFormat, {});
  EXPECT_EQ(decode_record(e.finish(RecordType::kLost), kFormat).error(), DecodeError::kSizeMismatch);

  test::SampleValues sv;
  sv.callchain = {kContextUser, 0x1000};
  Bytes sample = test::encode_sample(kFormat, sv);
  sample.resize(sample.size() + 8);
  test::set_size_field(sample, static_cast<uint16_t>(sample.size()));
  EXPECT_EQ(decode_record(sample, kFormat).error(), DecodeError::kSizeMismatch);

  // Given more bytes than the header claims.
  Bytes lost = test::encode_lost(kFormat, 1, 1, {});
  Bytes longer = lost;
  longer.resize(lost.size() + 8);
  EXPECT_EQ(decode_record(longer, kFormat).error(), DecodeError::kSizeMismatch);
}

TEST(RecordDecoder, LyingCallchainCountIsRejected) {
  test::SampleValues sv;
  sv.callchain = {kContextUser, 0x1000, 0x2000};
  Bytes bytes = test::encode_sample(kFormat, sv);
  // nr sits after identifier, ip, tid, time, cpu, period: 8 + 6 * 8.
  const size_t nr_at = 8 + 6 * 8;
  for (uint64_t nr : {uint64_t{4}, uint64_t{1} << 61, ~uint64_t{0}}) {
    Bytes lying = bytes;
    std::memcpy(lying.data() + nr_at, &nr, 8);
    EXPECT_EQ(decode_record(lying, kFormat).error(), DecodeError::kFieldOverflow) << nr;
  }
  uint64_t fewer = 2;
  Bytes lying = bytes;
  std::memcpy(lying.data() + nr_at, &fewer, 8);
  EXPECT_EQ(decode_record(lying, kFormat).error(), DecodeError::kSizeMismatch);
}

TEST(RecordDecoder, HeaderSizeBelowHeaderIsRejected) {
  Bytes bytes = test::encode_lost(kFormat, 1, 1, {});
  test::set_size_field(bytes, 4);
  EXPECT_EQ(decode_record(std::span<const std::byte>(bytes.data(), 8), kFormat).error(), DecodeError::kTruncated);
}

TEST(RecordDecoder, UnsupportedSampleBitsAreRefused) {
  SampleFormat f = kFormat;
  f.sample_type |= 1u << 10;  // PERF_SAMPLE_RAW
  EXPECT_FALSE(f.supported());
  EXPECT_EQ(decode_kept(test::encode_lost(kFormat, 1, 1, {}), f).error(), DecodeError::kUnsupportedFormat);
}

TEST(RecordDecoder, UnalignedInputIsReadSafely) {
  test::SampleValues sv;
  sv.id.time = 31337;
  sv.callchain = {kContextUser, 0xabc};
  Bytes bytes = test::encode_sample(kFormat, sv);
  Bytes shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  auto r = decode_record(std::span<const std::byte>(shifted.data() + 1, bytes.size()), kFormat);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->time(), 31337u);
  EXPECT_EQ(body_as<SampleRecord>(*r).callchain[1], 0xabcu);
}

}  // namespace
}  // namespace ember::collector

namespace ember::collector {
namespace {

// Mutated and random inputs: every outcome is a record or a DecodeError, never a read outside
// the bytes (the sanitizer build checks that), and a decoded record's views lie inside them.
TEST(RecordDecoder, MutatedRecordsNeverReadOutside) {
  std::mt19937 rng(2024);
  test::SampleValues sv;
  sv.callchain = {kContextKernel, 0xffffffff81000001, kContextUser, 0x401000, 0x402000};
  test::MmapValues mv;
  mv.filename = "/usr/lib/libexample.so.1";
  const std::vector<Bytes> seeds = {
      test::encode_sample(kFormat, sv), test::encode_mmap2(kFormat, mv),
      test::encode_comm(kFormat, 1, 2, "name", true, {}),
      test::encode_task(kFormat, RecordType::kExit, 1, 1, 1, 1, {}),
      test::encode_throttle(kFormat, true, 1, {}),
  };
  SampleFormat dwarf = kFormat;
  dwarf.sample_type |= kSampleRegsUser | kSampleStackUser;
  dwarf.regs_user_mask = 0xff;
  size_t decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes b = seeds[static_cast<size_t>(round) % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) b[rng() % b.size()] = static_cast<std::byte>(rng());
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    for (const SampleFormat* f : std::initializer_list<const SampleFormat*>{&kFormat, &dwarf}) {
      auto r = decode_record(b, *f);
      if (!r) continue;
      ++decoded;
      const std::byte* lo = b.data();
      const std::byte* hi = b.data() + b.size();
      auto inside = [&](const void* p, size_t n) {
        auto* c = static_cast<const std::byte*>(p);
        return n == 0 || (c >= lo && c + n <= hi);
      };
      if (const auto* m = std::get_if<MmapRecord>(&r->body)) {
        EXPECT_TRUE(inside(m->filename.data(), m->filename.size()));
        EXPECT_TRUE(inside(m->build_id.data(), m->build_id.size()));
      }
      if (const auto* c = std::get_if<CommRecord>(&r->body)) {
        EXPECT_TRUE(inside(c->comm.data(), c->comm.size()));
      }
      if (const auto* s = std::get_if<SampleRecord>(&r->body)) {
        uint64_t sum = 0;
        for (size_t i = 0; i < s->callchain.size(); ++i) sum += s->callchain[i];  // reads every entry
        for (size_t i = 0; i < s->regs_user.size(); ++i) sum += s->regs_user[i];
        EXPECT_TRUE(inside(s->stack_user.data(), s->stack_user.size()));
        (void)sum;
      }
    }
  }
  EXPECT_GT(decoded, 0u);  // flips in harmless places still decode
}

}  // namespace
}  // namespace ember::collector
