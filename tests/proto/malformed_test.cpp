// Broken and hostile inputs: each gives one exact line that names the file, never a crash.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdlib>
#include <random>

#include "proto/gzip.h"
#include "proto/pprof.h"
#include "test_support.h"

namespace ember::proto {
namespace {

using test::minimal_profile;
using test::Wire;

std::string error_of(std::string_view bytes, std::string_view source, const DecodeLimits& limits = {}) {
  auto p = decode(bytes, source, limits);
  if (p) return "(decoded without error)";
  EXPECT_EQ(p.error().message().find('\n'), std::string::npos);
  return p.error().message();
}

std::string gzip(std::string_view data, int level = kGzipLevel) {
  auto gz = gzip_compress(data, level);
  EXPECT_TRUE(gz);
  return *gz;
}

// Offset, in minimal_profile(extra), of the first byte of `extra`.
size_t extra_at() { return minimal_profile().size(); }

TEST(Malformed, TheMinimalProfileIsValid) {
  auto p = decode(minimal_profile(), "m.pb");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->total(0), 5);
}

TEST(Malformed, EmptyInput) {
  EXPECT_EQ(error_of("", "e.pb"), "e.pb: not a pprof profile: empty file");
  EXPECT_EQ(error_of(gzip(""), "e.pb.gz"),
            "e.pb.gz: not a pprof profile: the gzip data decompresses to nothing");
}

TEST(Malformed, TruncatedGzip) {
  auto gz = encode(test::make_rich_profile());
  ASSERT_TRUE(gz);
  // Cut in the middle, in the trailer's CRC and length, in the header, after the magic.
  for (size_t keep : {gz->size() / 2, gz->size() - 1, gz->size() - 4, gz->size() - 8, size_t{10},
                      size_t{2}}) {
    EXPECT_EQ(error_of(gz->substr(0, keep), "current.pb.gz"),
              "current.pb.gz: not a pprof profile: truncated gzip data")
        << "kept " << keep << " of " << gz->size() << " bytes";
  }
}

TEST(Malformed, EveryPrefixOfAGzipFileIsTruncated) {
  auto gz = encode(test::make_rich_profile());
  ASSERT_TRUE(gz);
  for (size_t keep = 2; keep < gz->size(); ++keep) {
    ASSERT_EQ(error_of(gz->substr(0, keep), "p.pb.gz"), "p.pb.gz: not a pprof profile: truncated gzip data")
        << "kept " << keep;
  }
}

TEST(Malformed, CorruptGzip) {
  auto gz = encode(test::make_rich_profile());
  ASSERT_TRUE(gz);
  std::string bad_crc = *gz;
  bad_crc[bad_crc.size() - 8] ^= 0x55;
  EXPECT_EQ(error_of(bad_crc, "c.pb.gz"), "c.pb.gz: not a pprof profile: corrupt gzip data (incorrect data check)");
  std::string bad_length = *gz;
  bad_length[bad_length.size() - 1] = '\x7f';  // ISIZE: a lie of about 2 GiB
  EXPECT_EQ(error_of(bad_length, "c.pb.gz"),
            "c.pb.gz: not a pprof profile: corrupt gzip data (incorrect length check)");
  std::string bad_method = *gz;
  bad_method[2] = 7;  // compression method other than deflate
  EXPECT_EQ(error_of(bad_method, "c.pb.gz"),
            "c.pb.gz: not a pprof profile: corrupt gzip data (unknown compression method)");
  EXPECT_EQ(error_of(*gz + "junk", "c.pb.gz"),
            "c.pb.gz: not a pprof profile: corrupt gzip data (4 bytes of trailing garbage)");
}

TEST(Malformed, ConcatenatedGzipMembersAreOneStream) {
  Wire second;
  second.message(2, Wire().packed(1, {1}).packed(2, {7}));
  auto p = decode(gzip(minimal_profile()) + gzip(second.str()), "two-members.pb.gz");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->total(0), 12);
}

TEST(Malformed, GzipBombStopsAtTheLimit) {
  // 64 MiB of zeros compress to about 64 KiB at zlib's best level, as a bomb maker would use.
  std::string bomb = gzip(std::string(64 << 20, '\0'), 9);
  ASSERT_LT(bomb.size(), 128u << 10);
  DecodeLimits limits;
  limits.max_decompressed_bytes = 8 << 20;
  auto p = decode(bomb, "bomb.pb.gz", limits);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(p.error().message(),
            "bomb.pb.gz: decompressed data exceeds the limit of 8388608 bytes (a gzip bomb?)");
  // Spread over concatenated members, the limit holds for the sum.
  std::string member = gzip(std::string(1 << 20, '\0'), 9);
  std::string members;
  for (int i = 0; i < 16; ++i) members += member;
  EXPECT_EQ(error_of(members, "bombs.pb.gz", limits),
            "bombs.pb.gz: decompressed data exceeds the limit of 8388608 bytes (a gzip bomb?)");
  // The default limit is 1 GiB.
  EXPECT_EQ(DecodeLimits{}.max_decompressed_bytes, size_t{1} << 30);
}

TEST(Malformed, RunningOutOfMemoryWithinTheLimitsIsAnErrorNotACrash) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "an address-space limit cannot be combined with AddressSanitizer's shadow memory";
#else
  // 1 GiB of zeros in 64 concatenated members, decoded with limits above what the process may
  // allocate (RLIMIT_AS, in a child process).
  std::string member = gzip(std::string(16 << 20, '\0'), 9);
  std::string members;
  for (int i = 0; i < 64; ++i) members += member;
  auto in_child = [&] {
    rlimit limit{size_t{512} << 20, size_t{512} << 20};
    setrlimit(RLIMIT_AS, &limit);
    DecodeLimits limits;
    limits.max_decompressed_bytes = size_t{8} << 30;
    auto p = decode(members, "big.pb.gz", limits);
    bool as_expected = !p && p.error().code() == ErrorCode::kResourceExhausted &&
                       p.error().message() == "big.pb.gz: out of memory while decoding";
    std::exit(as_expected ? 0 : 1);
  };
  EXPECT_EXIT(in_child(), ::testing::ExitedWithCode(0), "");
#endif
}

TEST(Malformed, TruncatedProtobuf) {
  std::string raw = minimal_profile();
  // The last field is string_table "main.go": tag, length 7, 7 bytes.
  size_t last = raw.size() - 9;
  EXPECT_EQ(error_of(raw.substr(0, raw.size() - 2), "t.pb"),
            fmt::format("t.pb: not a pprof profile: truncated protobuf data (field 6 at byte {} "
                        "needs 7 bytes, 5 remain)",
                        last));
  // The same inside intact gzip.
  EXPECT_EQ(error_of(gzip(raw.substr(0, raw.size() - 2)), "t.pb.gz"),
            fmt::format("t.pb.gz: not a pprof profile: truncated protobuf data (field 6 at byte {} "
                        "needs 7 bytes, 5 remain)",
                        last));
  // Cut inside a tag, a length, a varint.
  EXPECT_EQ(error_of(raw + "\xa0", "t.pb"),
            fmt::format("t.pb: not a pprof profile: truncated protobuf data (the field tag at byte "
                        "{} is cut off)",
                        raw.size()));
  EXPECT_EQ(error_of(raw + "\x32\x80", "t.pb"),
            fmt::format("t.pb: not a pprof profile: truncated protobuf data (the length of field 6 "
                        "at byte {} is cut off)",
                        raw.size()));
  EXPECT_EQ(error_of(raw + "\x48\xff\xff", "t.pb"),
            fmt::format("t.pb: not a pprof profile: truncated protobuf data (field 9 at byte {} is "
                        "cut off)",
                        raw.size()));
}

TEST(Malformed, AbsurdLengthIsTruncationNotAnAllocation) {
  Wire w;
  w.raw(minimal_profile()).raw("\x12\x80\x80\x80\x80\x80\x80\x80\x80\x40");  // field 2, 2^62 bytes
  EXPECT_EQ(error_of(w.str(), "huge.pb"),
            fmt::format("huge.pb: not a pprof profile: truncated protobuf data (field 2 at byte {} "
                        "needs 4611686018427387904 bytes, 0 remain)",
                        extra_at()));
}

TEST(Malformed, Garbage) {
  EXPECT_EQ(error_of(std::string(64, '\xff'), "g.bin"),
            "g.bin: not a pprof profile: malformed protobuf data (overlong varint at byte 0)");
  EXPECT_EQ(error_of(std::string(64, '\0'), "g.bin"),
            "g.bin: not a pprof profile: malformed protobuf data (invalid field number 0 at byte 0)");
  EXPECT_EQ(error_of("\x7f" "ELF\x02\x01\x01\x00", "a.out"),
            "a.out: not a pprof profile: malformed protobuf data (invalid wire type 7 in field 15 at "
            "byte 0)");
  // Only fields that profile.proto does not have: a protobuf message, but not a profile.
  EXPECT_EQ(error_of(Wire().varint(100, 1).bytes(200, "x").str(), "other.pb"),
            "other.pb: not a pprof profile: no field of profile.proto's Profile message");
  std::mt19937 rng(1);
  for (int round = 0; round < 200; ++round) {
    std::string noise(64 + rng() % 4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    std::string message = error_of(noise, "noise.bin");
    EXPECT_TRUE(message.starts_with("noise.bin: ")) << message;
  }
}

TEST(Malformed, FoldedTextIsNotPprof) {
  const std::string folded = "app;main;compute_alpha 70\napp;main;compute_beta 30\n";
  EXPECT_EQ(error_of(folded, "stacks.folded"),
            "stacks.folded: not a pprof profile: the file is text (folded stacks?), not gzip or "
            "protobuf");
  // '8' is a valid tag (field 7, varint): text must be caught before the wire walk.
  EXPECT_EQ(error_of("8080-server;main 1\n", "s.folded"),
            "s.folded: not a pprof profile: the file is text (folded stacks?), not gzip or protobuf");
  EXPECT_EQ(error_of(gzip(folded), "stacks.folded.gz"),
            "stacks.folded.gz: not a pprof profile: the decompressed data is text (folded stacks?), "
            "not protobuf");
}

TEST(Malformed, WrongWireTypesAtTheTopLevel) {
  size_t at = extra_at();
  EXPECT_EQ(error_of(minimal_profile(Wire().varint(1, 5)), "w.pb"),
            fmt::format("w.pb: not a pprof profile: field 1 (sample_type) at byte {} is varint, "
                        "expected length-delimited",
                        at));
  EXPECT_EQ(error_of(minimal_profile(Wire().bytes(9, "xx")), "w.pb"),
            fmt::format("w.pb: not a pprof profile: field 9 (time_nanos) at byte {} is "
                        "length-delimited, expected varint",
                        at));
  EXPECT_EQ(error_of(minimal_profile(Wire().varint(6, 1)), "w.pb"),
            fmt::format("w.pb: not a pprof profile: field 6 (string_table) at byte {} is varint, "
                        "expected length-delimited",
                        at));
  EXPECT_EQ(error_of(minimal_profile(Wire().fixed32(13, 1)), "w.pb"),
            fmt::format("w.pb: not a pprof profile: field 13 (comment) at byte {} is 32-bit, "
                        "expected varint or packed varints",
                        at));
  EXPECT_EQ(error_of(minimal_profile(Wire().raw("\xa3\x01")), "w.pb"),
            fmt::format("w.pb: not a pprof profile: malformed protobuf data (unsupported group "
                        "start in field 20 at byte {})",
                        at));
  EXPECT_EQ(error_of(minimal_profile(Wire().bytes(13, "\xff")), "w.pb"),
            fmt::format("w.pb: not a pprof profile: field 13 (comment) at byte {}: malformed packed "
                        "varints",
                        at));
}

TEST(Malformed, WrongWireTypesInsideMessages) {
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {1}).fixed64(2, 5))), "w.pb"),
            "w.pb: sample #2: field 2 (value) is 64-bit, expected varint or packed varints");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(3, Wire().bytes(1, "\x01"))), "w.pb"),
            "w.pb: mapping #1: field 1 (id) is length-delimited, expected varint");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {1}).packed(2, {1}).varint(3, 4))),
                     "w.pb"),
            "w.pb: sample #2: field 3 (label) is varint, expected length-delimited");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(
                         2, Wire().packed(1, {1}).packed(2, {1}).message(3, Wire().bytes(1, "k")))),
                     "w.pb"),
            "w.pb: sample #2 label: field 1 (key) is length-delimited, expected varint");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(
                         4, Wire().varint(1, 2).message(4, Wire().fixed32(1, 1)))),
                     "w.pb"),
            "w.pb: location 2 line: field 1 (function_id) is 32-bit, expected varint");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(5, Wire().varint(1, 2).fixed64(5, 1))), "w.pb"),
            "w.pb: function #2: field 5 (start_line) is 64-bit, expected varint");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(11, Wire().bytes(1, ""))), "w.pb"),
            "w.pb: period_type: field 1 (type) is length-delimited, expected varint");
  // A submessage that libprotobuf cannot parse at all: the walk says why.
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().raw("\x0a\x05\x01"))), "w.pb"),
            "w.pb: sample #2: truncated protobuf data (field 1 at byte 0 needs 5 bytes, 1 remain)");
}

TEST(Malformed, StringIndicesOutOfRange) {
  EXPECT_EQ(error_of(minimal_profile(Wire().message(5, Wire().varint(1, 2).varint(2, 99))), "s.pb"),
            "s.pb: function 2 name is string 99, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(
                         2, Wire().packed(1, {1}).packed(2, {1}).message(
                                3, Wire().varint(1, static_cast<uint64_t>(-1))))),
                     "s.pb"),
            "s.pb: sample #2 label key is string -1, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(
                         2, Wire().packed(1, {1}).packed(2, {1}).message(
                                3, Wire().varint(1, 1).varint(3, 4).varint(4, 5)))),
                     "s.pb"),
            "s.pb: sample #2 label num_unit is string 5, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(1, Wire().varint(1, 1).varint(2, 5))), "s.pb"),
            "s.pb: sample_type #2 unit is string 5, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(3, Wire().varint(1, 1).varint(6, 6))), "s.pb"),
            "s.pb: mapping 1 build_id is string 6, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().varint(7, 77)), "s.pb"),
            "s.pb: drop_frames is string 77, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().packed(13, {1, 50})), "s.pb"),
            "s.pb: comment #2 is string 50, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().varint(15, 5)), "s.pb"),
            "s.pb: doc_url is string 5, but the string table has 5 strings");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(11, Wire().varint(2, 9))), "s.pb"),
            "s.pb: period_type unit is string 9, but the string table has 5 strings");
  EXPECT_EQ(error_of(Wire().bytes(6, "x").str(), "s.pb"),
            "s.pb: string_table[0] must be the empty string, but it has 1 byte");
  // No string table at all: only index 0 exists.
  EXPECT_EQ(error_of(Wire().message(1, Wire().varint(1, 1)).str(), "s.pb"),
            "s.pb: sample_type #1 type is string 1, but the string table has 1 string");
}

TEST(Malformed, DanglingAndDuplicateIds) {
  EXPECT_EQ(error_of(minimal_profile(Wire().message(4, Wire().varint(1, 3).message(4, Wire().varint(1, 17)))),
                     "x.pb"),
            "x.pb: location 3 refers to missing function 17");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(4, Wire().varint(1, 3).varint(2, 9))), "x.pb"),
            "x.pb: location 3 refers to missing mapping 9");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {1, 12}).packed(2, {1}))), "x.pb"),
            "x.pb: sample #2 refers to missing location 12");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {0}).packed(2, {1}))), "x.pb"),
            "x.pb: sample #2 refers to missing location 0");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(4, Wire().varint(2, 0))), "x.pb"),
            "x.pb: location #2 has id 0 (ids must be nonzero)");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(3, Wire().varint(4, 1))), "x.pb"),
            "x.pb: mapping #1 has id 0 (ids must be nonzero)");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(5, Wire().varint(2, 3))), "x.pb"),
            "x.pb: function #2 has id 0 (ids must be nonzero)");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(5, Wire().varint(1, 1).varint(2, 4))), "x.pb"),
            "x.pb: duplicate function id 1");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(4, Wire().varint(1, 1))), "x.pb"),
            "x.pb: duplicate location id 1");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(3, Wire().varint(1, 1 << 20)).message(
                         3, Wire().varint(1, 1 << 20))),
                     "x.pb"),
            "x.pb: duplicate mapping id 1048576");
}

TEST(Malformed, ValueCountsMustMatchSampleTypes) {
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {1}).packed(2, {1, 2}))), "v.pb"),
            "v.pb: sample #2 has 2 values, but the profile has 1 sample type");
  EXPECT_EQ(error_of(minimal_profile(Wire().message(2, Wire().packed(1, {1}))), "v.pb"),
            "v.pb: sample #2 has 0 values, but the profile has 1 sample type");
  Wire no_types;
  no_types.message(2, Wire().packed(2, {1})).bytes(6, "");
  EXPECT_EQ(error_of(no_types.str(), "v.pb"), "v.pb: the profile has samples but no sample types");
}

TEST(Malformed, ConcatenatedProfiles) {
  std::string one = minimal_profile(Wire().varint(9, 1000));
  EXPECT_EQ(error_of(one + one, "cat.pb"),
            "cat.pb: two profiles concatenated into one (time_nanos appears twice)");
  EXPECT_EQ(error_of(minimal_profile() + minimal_profile(), "cat.pb"), "cat.pb: duplicate function id 1");
}

TEST(Malformed, MemoryLimitBoundsWhatSmallInputsExpandTo) {
  DecodeLimits limits;
  limits.max_profile_bytes = 1 << 20;
  // 100000 empty lines: 200 KB on the wire, megabytes as objects.
  std::string lines;
  for (int i = 0; i < 100000; ++i) lines += std::string("\x22\x00", 2);
  Wire location;
  location.varint(1, 2).raw(lines);
  auto p = decode(minimal_profile(Wire().message(4, location)), "lines.pb", limits);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(p.error().message(),
            fmt::format("lines.pb: location #2 ({} bytes) is too large to decode within the memory "
                        "limit of 1048576 bytes",
                        location.str().size()));
  EXPECT_TRUE(decode(minimal_profile(Wire().message(4, location)), "lines.pb"));

  // 100000 empty strings: 200 KB on the wire, several MB in the string table.
  std::string strings;
  for (int i = 0; i < 100000; ++i) strings += std::string("\x32\x00", 2);
  auto q = decode(minimal_profile(Wire().raw(strings)), "strings.pb", limits);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(q.error().message(),
            "strings.pb: the decoded profile would exceed the memory limit of 1048576 bytes");
  EXPECT_TRUE(decode(minimal_profile(Wire().raw(strings)), "strings.pb"));
}

// Whatever decode makes of damaged input, it is either an error of one line naming the file or
// a profile that holds together (encode checks every reference and would refuse it otherwise).
void expect_clean_outcome(std::string_view bytes, std::string_view source) {
  auto p = decode(bytes, source);
  if (p) {
    auto again = encode(*p);
    EXPECT_TRUE(again) << again.error().message();
  } else {
    EXPECT_TRUE(p.error().message().starts_with(std::string(source) + ": ")) << p.error().message();
    EXPECT_EQ(p.error().message().find('\n'), std::string::npos) << p.error().message();
  }
}

TEST(Malformed, EveryPrefixOfARawProfile) {
  auto raw = encode(test::make_rich_profile(), Compression::kNone);
  ASSERT_TRUE(raw);
  for (size_t keep = 0; keep < raw->size(); ++keep) {
    expect_clean_outcome(raw->substr(0, keep), "prefix.pb");
  }
}

TEST(Malformed, EverySingleByteCorruption) {
  auto raw = encode(test::make_rich_profile(), Compression::kNone);
  ASSERT_TRUE(raw);
  for (size_t i = 0; i < raw->size(); ++i) {
    for (unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string damaged = *raw;
      damaged[i] = static_cast<char>(value);
      expect_clean_outcome(damaged, "flip.pb");
    }
    std::string flipped = *raw;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x40);
    expect_clean_outcome(flipped, "flip.pb");
  }
  auto gz = encode(test::make_rich_profile());
  ASSERT_TRUE(gz);
  for (size_t i = 0; i < gz->size(); ++i) {
    std::string damaged = *gz;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x21);
    expect_clean_outcome(damaged, "flip.pb.gz");
  }
}

}  // namespace
}  // namespace ember::proto
