// Profile → pprof → Profile keeps everything; the encoding follows pprof's conventions.

#include <gtest/gtest.h>

#include <set>

#include "profile/builder.h"
#include "profile/folded.h"
#include "proto/gzip.h"
#include "proto/pprof.h"
#include "test_support.h"

namespace ember::proto {
namespace {

using namespace ember::profile;

Profile round_trip(const Profile& p, Compression c = Compression::kGzip) {
  auto bytes = encode(p, c);
  EXPECT_TRUE(bytes) << bytes.error().message();
  auto back = decode(*bytes, "rt.pb.gz");
  EXPECT_TRUE(back) << back.error().message();
  return back ? std::move(*back) : Profile{};
}

TEST(RoundTrip, KeepsEveryFieldOfARichProfile) {
  Profile p = test::make_rich_profile();
  p.drop_frames = p.strings.intern("^std::__detail::.*");
  p.keep_frames = p.strings.intern("^std::__detail::keep$");
  for (Compression c : {Compression::kGzip, Compression::kNone}) {
    Profile back = round_trip(p, c);
    EXPECT_EQ(test::differences(p, back), "");
    // The decoded model gives the same named stacks, for each sample type.
    EXPECT_EQ(test::folded(back, 0), test::folded(p, 0));
    EXPECT_EQ(test::folded(back, 1), test::folded(p, 1));
    FoldOptions per_thread;
    per_thread.per_pid = true;
    per_thread.per_thread = true;
    EXPECT_EQ(format_folded(fold(back, per_thread)), format_folded(fold(p, per_thread)));
  }
}

TEST(RoundTrip, FoldedShowsKernelInlineUnsymbolizedAndUnmappedFrames) {
  // Guards the fixture itself: the round trip above compares these frames.
  std::string text = test::folded(test::make_rich_profile(), 0);
  EXPECT_NE(text.find("app;main;write;entry_SYSCALL_64_after_hwframe_[k];__x64_sys_write_[k];"
                      "vfs_write_[k] 8\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("app;main;compute_beta(std::vector<int, std::allocator<int> >&);"
                      "std::vector<int, std::allocator<int> >::push_back(int const&) 30\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("app;main;compute_alpha(int);libblob.so.1+0x15a20 5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("app;main;LazyCompile:*handler /srv/app.js:4 3\n"), std::string::npos) << text;
}

TEST(RoundTrip, FoldedTextSurvivesProfileAndPprof) {
  const std::string text =
      "app;main;compute_alpha 70\n"
      "app;main;compute_beta;memcpy 12\n"
      "app;main;read;entry_SYSCALL_64_[k];ksys_read_[k] 9\n"
      "node;LazyCompile:*run_[j] 4\n"
      "python3;<module>;run (app.py:12);[unknown] 1\n";
  auto parsed = parse_folded(text, "in.folded");
  ASSERT_TRUE(parsed) << parsed.error().message();
  Profile p = to_profile(*parsed);
  Profile back = round_trip(p);
  EXPECT_EQ(format_folded(fold(back)), text);
}

TEST(RoundTrip, PythonFramesStayPython) {
  Profile p = test::make_python_profile();
  Profile back = round_trip(p);
  EXPECT_EQ(test::differences(p, back), "");
  const Mapping* python = nullptr;
  for (const Mapping& m : back.mappings) {
    if (m.kind == MappingKind::kPython) python = &m;
  }
  ASSERT_NE(python, nullptr) << "the [python] mapping came back as another kind";
  EXPECT_EQ(back.str(python->filename), kPythonMappingName);
  bool found = false;
  for (const Function& f : back.functions) {
    if (back.str(f.name) != "Server.handle") continue;
    found = true;
    EXPECT_EQ(back.str(f.filename), "/srv/app/app.py");
    EXPECT_EQ(f.start_line, 38);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(test::folded(back),
            "python3;_start;PyEval_EvalCode;<module> (app.py:50);main (app.py:12);Server.handle (app.py:40);"
            "zlib_compress_impl;deflate 30\n"
            "python3;_start;PyEval_EvalCode;<module> (app.py:50);main (app.py:12);Server.handle (app.py:44);"
            "hot (hot.py:5) 70\n");
}

TEST(RoundTrip, RecordingShapedProfile) {
  Profile p = test::make_recording(50, 20, 4, 12000);
  Profile back = round_trip(p);
  EXPECT_EQ(test::differences(p, back), "");
  EXPECT_EQ(back.total(0), 12000);
  EXPECT_EQ(test::folded(back), test::folded(p));
}

TEST(Encode, IdsAreIndexPlusOneAndStringsStartEmptyAndAreUnique) {
  Profile p = test::make_rich_profile();
  // A decoded model may hold a string twice and strings nothing refers to.
  p.strings.append("compute_alpha(int)");
  p.strings.append("an unused string");
  auto raw = encode(p, Compression::kNone);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->find("an unused string"), std::string::npos);
  auto back = decode(*raw, "x.pb");
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_GT(back->strings.size(), 1u);
  EXPECT_EQ(back->strings.get(StringId{0}), "");
  std::set<std::string_view> unique(back->strings.strings().begin(), back->strings.strings().end());
  EXPECT_EQ(unique.size(), back->strings.size());
  // Ids (model index + 1) bring every reference back to the same index.
  EXPECT_EQ(test::differences(p, *back), "");
}

TEST(Encode, EncodingIsStableAcrossARoundTrip) {
  Profile p = test::make_rich_profile();
  auto first = encode(p, Compression::kNone);
  ASSERT_TRUE(first);
  auto decoded = decode(*first, "x.pb");
  ASSERT_TRUE(decoded);
  auto second = encode(*decoded, Compression::kNone);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
}

TEST(Encode, GzipIsRecognisedAndDecompressesToTheRawEncoding) {
  Profile p = test::make_rich_profile();
  auto gz = encode(p);
  auto raw = encode(p, Compression::kNone);
  ASSERT_TRUE(gz && raw);
  EXPECT_TRUE(is_gzip(*gz));
  EXPECT_FALSE(is_gzip(*raw));
  EXPECT_LT(gz->size(), raw->size());
  auto inflated = gzip_decompress(*gz, 1 << 20);
  ASSERT_TRUE(inflated);
  EXPECT_EQ(*inflated, *raw);
}

TEST(Encode, InvalidMappingAndFunctionBecomeIdZero) {
  Profile p = test::make_rich_profile();
  p.locations[0].mapping = MappingId{};
  p.locations[0].lines[0].function = FunctionId{};
  Profile back = round_trip(p);
  EXPECT_FALSE(back.locations[0].mapping.valid());
  EXPECT_FALSE(back.locations[0].lines[0].function.valid());
  EXPECT_EQ(test::differences(p, back), "");
}

TEST(Encode, EmptyProfileRoundTrips) {
  Profile empty;
  auto bytes = encode(empty, Compression::kNone);
  ASSERT_TRUE(bytes);
  // Only string_table[0]: a message that is not empty, so readers do not take it for no data.
  EXPECT_EQ(*bytes, std::string("\x32\x00", 2));
  auto back = decode(*bytes, "empty.pb");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->samples.empty());
}

TEST(Encode, RefusesProfilesPprofReadersWouldReject) {
  Profile p = test::make_rich_profile();
  p.samples[1].values.pop_back();
  auto short_values = encode(p);
  ASSERT_FALSE(short_values);
  EXPECT_EQ(short_values.error().message(),
            "cannot encode profile: sample 1 has 1 value, but the profile has 2 sample types");

  Profile q = test::make_rich_profile();
  q.samples[0].locations[0] = LocationId{999};
  auto dangling = encode(q);
  ASSERT_FALSE(dangling);
  EXPECT_EQ(dangling.error().message(),
            "cannot encode profile: sample 0 refers to location 999, but the profile has 11 "
            "locations");

  Profile r = test::make_rich_profile();
  r.functions[2].name = StringId{100000};
  auto bad_string = encode(r);
  ASSERT_FALSE(bad_string);
  EXPECT_EQ(bad_string.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(bad_string.error().message().starts_with(
      "cannot encode profile: function 2 refers to string 100000"))
      << bad_string.error().message();

  Profile s = test::make_rich_profile();
  s.sample_types.clear();
  auto no_types = encode(s);
  ASSERT_FALSE(no_types);
  EXPECT_EQ(no_types.error().message(), "cannot encode profile: it has samples but no sample types");
}

TEST(Decode, KeepsTheFilesStringIndicesAndTableOrder) {
  // Ids need not be 1..n nor in order; strings may repeat. The model keeps the file's order.
  test::Wire w;
  w.message(1, test::Wire().varint(1, 1).varint(2, 2));
  w.message(2, test::Wire().packed(1, {900, 70}).packed(2, {3}));
  w.message(4, test::Wire().varint(1, 900).message(4, test::Wire().varint(1, 5000)));
  w.message(4, test::Wire().varint(1, 70).message(4, test::Wire().varint(1, 12)));
  w.message(5, test::Wire().varint(1, 5000).varint(2, 3));
  w.message(5, test::Wire().varint(1, 12).varint(2, 4));
  for (std::string_view s : {"", "samples", "count", "leaf", "root", "leaf"}) w.bytes(6, s);
  auto p = decode(w.str(), "ids.pb");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->locations.size(), 2u);
  EXPECT_EQ(p->samples[0].locations[0].value, 0u);
  EXPECT_EQ(p->samples[0].locations[1].value, 1u);
  EXPECT_EQ(p->locations[0].lines[0].function.value, 0u);
  EXPECT_EQ(p->locations[1].lines[0].function.value, 1u);
  EXPECT_EQ(p->strings.size(), 6u);
  EXPECT_EQ(p->functions[0].name.value, 3u);
  EXPECT_EQ(format_folded(fold(*p)), "root;leaf 3\n");
}

TEST(Decode, AcceptsPackedAndUnpackedRepeatedFields) {
  test::Wire unpacked;
  unpacked.message(1, test::Wire().varint(1, 1).varint(2, 2));
  unpacked.message(1, test::Wire().varint(1, 3).varint(2, 4));
  unpacked.message(2, test::Wire().varint(1, 1).varint(2, 7).varint(2, 70));
  unpacked.message(4, test::Wire().varint(1, 1).message(4, test::Wire().varint(1, 1)));
  unpacked.message(5, test::Wire().varint(1, 1).varint(2, 5));
  for (std::string_view s : {"", "samples", "count", "cpu", "nanoseconds", "f"}) unpacked.bytes(6, s);
  unpacked.varint(13, 5).varint(13, 1);
  auto p = decode(unpacked.str(), "u.pb");
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->samples.size(), 1u);
  EXPECT_EQ(p->samples[0].values, (std::vector<int64_t>{7, 70}));
  ASSERT_EQ(p->comments.size(), 2u);
  EXPECT_EQ(p->str(p->comments[0]), "f");
  // No default_sample_type: the last type is the default, as pprof says.
  EXPECT_EQ(p->default_value_index(), 1u);
}

TEST(Decode, MapsMappingKindFromFilename) {
  Profile p = test::make_rich_profile();
  Profile back = round_trip(p);
  ASSERT_EQ(back.mappings.size(), 4u);
  EXPECT_EQ(back.mappings[0].kind, MappingKind::kFile);
  EXPECT_EQ(back.mappings[2].kind, MappingKind::kKernel);
  // Other producers' names for special mappings.
  test::Wire w;
  for (uint64_t id : {1, 2, 3, 4}) w.message(3, test::Wire().varint(1, id).varint(5, id));
  for (std::string_view s : {"", "[vdso]", "/tmp/perf-4242.map", "[anon:v8]", "/usr/bin/python3"}) {
    w.bytes(6, s);
  }
  auto q = decode(w.str(), "kinds.pb");
  ASSERT_TRUE(q) << q.error().message();
  EXPECT_EQ(q->mappings[0].kind, MappingKind::kVdso);
  EXPECT_EQ(q->mappings[1].kind, MappingKind::kJit);
  EXPECT_EQ(q->mappings[2].kind, MappingKind::kAnonymous);
  EXPECT_EQ(q->mappings[3].kind, MappingKind::kFile);
}

TEST(Decode, SkipsFieldsFromNewerVersionsOfTheFormat) {
  // Unknown field numbers, at the top level and inside messages, of every wire type.
  test::Wire extra;
  extra.varint(100, 7).fixed64(101, 1).fixed32(102, 2).bytes(103, "future");
  extra.message(2, test::Wire().packed(1, {1}).packed(2, {1}).varint(9, 3).bytes(10, "x"));
  auto p = decode(test::minimal_profile(extra), "future.pb");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->samples.size(), 2u);
  EXPECT_EQ(p->total(0), 6);
}

TEST(Sniffing, RecognisesPprofAndNotText) {
  Profile p = test::make_rich_profile();
  auto gz = encode(p);
  auto raw = encode(p, Compression::kNone);
  ASSERT_TRUE(gz && raw);
  EXPECT_TRUE(looks_like_pprof(*gz));
  EXPECT_TRUE(looks_like_pprof(*raw));
  // A prefix of the file is enough.
  EXPECT_TRUE(looks_like_pprof(std::string_view(*raw).substr(0, 64)));
  EXPECT_TRUE(looks_like_pprof(test::minimal_profile()));

  EXPECT_FALSE(looks_like_pprof(""));
  EXPECT_FALSE(looks_like_pprof("app;main;compute_alpha 70\napp;main;compute_beta 30\n"));
  // Folded lines whose first bytes happen to be valid protobuf tags ('8' is field 7, varint).
  EXPECT_FALSE(looks_like_pprof("8080-server;main;handle 3\n"));
  EXPECT_FALSE(looks_like_pprof("python3;<module>;main 1\n"));
  EXPECT_FALSE(looks_like_pprof("häuser;straße 2\n"));
  EXPECT_FALSE(looks_like_pprof("\x7f" "ELF\x02\x01\x01"));
  EXPECT_FALSE(looks_like_pprof("<svg version=\"1.1\""));
  EXPECT_FALSE(looks_like_pprof("{\"version\": 1}"));
  EXPECT_FALSE(looks_like_pprof(std::string(64, '\xff')));
  EXPECT_FALSE(looks_like_pprof(std::string(64, '\0')));
}

}  // namespace
}  // namespace ember::proto
