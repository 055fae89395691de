#include "profile/folded.h"

#include <gtest/gtest.h>

#include "profile/builder.h"

namespace ember::profile {
namespace {

std::vector<std::string> frames_of(const FoldedStacks& f, const FoldedStacks::Stack& s) {
  std::vector<std::string> out;
  for (StringId id : s.frames) out.emplace_back(f.names.get(id));
  return out;
}

TEST(Folded, ParseAndFormatRoundTrip) {
  const std::string text =
      "app;main;compute_alpha 70\n"
      "app;main;compute_beta 30\n"
      "app;main;read_[k];vfs_read_[k] 5\n";
  auto parsed = parse_folded(text, "in.folded");
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->stacks.size(), 3u);
  EXPECT_EQ(parsed->total(), 105);
  EXPECT_EQ(format_folded(*parsed),
            "app;main;compute_alpha 70\napp;main;compute_beta 30\napp;main;read_[k];vfs_read_[k] 5\n");
}

TEST(Folded, DuplicateStacksAreSummedAndBlankLinesSkipped) {
  auto parsed = parse_folded("a;b 1\n\n a;b 2\r\na;b 3\n", "x");
  ASSERT_TRUE(parsed);
  // " a;b" keeps its leading space: frame names are taken as written.
  EXPECT_EQ(format_folded(*parsed), " a;b 2\na;b 4\n");
}

TEST(Folded, FrameNamesWithSpacesKeepThem) {
  auto parsed = parse_folded("app;operator new(unsigned long) 7\n", "x");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->stacks.size(), 1u);
  EXPECT_EQ(frames_of(*parsed, parsed->stacks[0]),
            (std::vector<std::string>{"app", "operator new(unsigned long)"}));
}

TEST(Folded, ErrorsNameFileAndLine) {
  auto missing = parse_folded("a;b 1\nno_count_here\n", "stacks.folded");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "stacks.folded:2: no sample count at the end of the line (expected 'frame;frame COUNT')");
  auto bad = parse_folded("a;b 12x\n", "s");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "s:1: '12x' is not a sample count (expected 'frame;frame COUNT')");
  auto negative = parse_folded("a -3\n", "s");
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().message(), "s:1: negative sample count");
  auto huge = parse_folded("a 99999999999999999999999\n", "s");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().message(), "s:1: sample count out of range");
  auto binary = parse_folded(std::string_view("\x1f\x8b\0\0 1\n", 8), "s");
  ASSERT_FALSE(binary);
  EXPECT_EQ(binary.error().code(), ErrorCode::kMalformed);
}

TEST(Folded, FoldedToProfileAndBackKeepsEveryStack) {
  const std::string text =
      "app;main;f 10\n"
      "app;main;g;sys_write_[k] 3\n"
      "node;LazyCompile:*run_[j] 4\n";
  auto parsed = parse_folded(text, "x");
  ASSERT_TRUE(parsed);
  Profile p = to_profile(*parsed);
  ASSERT_EQ(p.sample_types.size(), 1u);
  EXPECT_EQ(p.str(p.sample_types[0].type), "samples");
  EXPECT_EQ(format_folded(fold(p)), text);
  // The suffix is a kind, not part of the name.
  bool found_kernel = false;
  for (const Location& l : p.locations) {
    const Function& f = p.function(l.lines[0].function);
    if (p.str(f.name) == "sys_write") {
      found_kernel = true;
      ASSERT_TRUE(l.mapping.valid());
      EXPECT_EQ(p.mapping(l.mapping).kind, MappingKind::kKernel);
    }
  }
  EXPECT_TRUE(found_kernel);
}

// A small recorded-looking profile: two processes, inline frames, a kernel frame, an unsymbolized
// frame in a known module and one in no module.
Profile sample_profile() {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  Mapping exe;
  exe.filename = b.intern("/usr/bin/app");
  exe.has_functions = true;
  MappingId exe_id = b.add_mapping(exe);
  Mapping lzma;
  lzma.filename = b.intern("/usr/lib/x86_64-linux-gnu/liblzma.so.5.4.1");
  MappingId lzma_id = b.add_mapping(lzma);
  Mapping kernel;
  kernel.filename = b.intern("[kernel.kallsyms]");
  kernel.kind = MappingKind::kKernel;
  MappingId kernel_id = b.add_mapping(kernel);

  FunctionId main_f = b.add_function("main", "main", "app.cc");
  FunctionId outer = b.add_function("truth::Worker::compute_alpha", "_ZN5truth6Worker13compute_alphaEv", "w.cc");
  FunctionId inlined = b.add_function("truth::square", "_ZN5truth6squareEd", "w.h");
  FunctionId sys = b.add_function("do_syscall_64", "do_syscall_64", "");
  Line main_line[] = {{main_f, 10, 0}};
  Line alpha_lines[] = {{inlined, 3, 0}, {outer, 20, 0}};  // innermost first
  Line sys_line[] = {{sys, 0, 0}};
  LocationId l_main = b.add_location(exe_id, 0x1100, main_line);
  LocationId l_alpha = b.add_location(exe_id, 0x1200, alpha_lines);
  LocationId l_lzma = b.add_location(lzma_id, 0x15a20, {});
  LocationId l_sys = b.add_location(kernel_id, 0xffffffff81000000, sys_line);
  LocationId l_nowhere = b.add_location(MappingId{}, 0xdead, {});

  auto labels = [&](int pid, int tid, std::string_view comm, std::string_view thread) {
    return std::vector<Label>{{b.intern("pid"), {}, pid, {}},
                              {b.intern("tid"), {}, tid, {}},
                              {b.intern("comm"), b.intern(comm), 0, {}},
                              {b.intern("thread_comm"), b.intern(thread), 0, {}}};
  };
  LocationId s1[] = {l_alpha, l_main};
  LocationId s2[] = {l_sys, l_lzma, l_main};
  LocationId s3[] = {l_nowhere};
  int64_t v7[] = {7, 7000};
  int64_t v2[] = {2, 2000};
  int64_t v1[] = {1, 1000};
  b.add_sample(s1, v7, labels(100, 100, "app", "app"));
  b.add_sample(s1, v2, labels(100, 101, "app", "worker"));
  b.add_sample(s2, v2, labels(100, 101, "app", "worker"));
  b.add_sample(s3, v1, labels(200, 200, "other", "other"));
  return std::move(b).finish();
}

TEST(Fold, NamesFramesLikeStackcollapse) {
  Profile p = sample_profile();
  EXPECT_EQ(format_folded(fold(p)),
            "app;main;liblzma.so.5.4.1+0x15a20;do_syscall_64_[k] 2\n"
            "app;main;truth::Worker::compute_alpha;truth::square 9\n"
            "other;[unknown] 1\n");
}

TEST(Fold, PerPidAndPerThread) {
  Profile p = sample_profile();
  FoldOptions o;
  o.per_pid = true;
  o.per_thread = true;
  EXPECT_EQ(format_folded(fold(p, o)),
            "app-100;app-100;main;truth::Worker::compute_alpha;truth::square 7\n"
            "app-100;worker-101;main;liblzma.so.5.4.1+0x15a20;do_syscall_64_[k] 2\n"
            "app-100;worker-101;main;truth::Worker::compute_alpha;truth::square 2\n"
            "other-200;other-200;[unknown] 1\n");
  FoldOptions threads_only;
  threads_only.per_thread = true;
  EXPECT_EQ(format_folded(fold(p, threads_only)),
            "app;app;main;truth::Worker::compute_alpha;truth::square 7\n"
            "app;worker;main;liblzma.so.5.4.1+0x15a20;do_syscall_64_[k] 2\n"
            "app;worker;main;truth::Worker::compute_alpha;truth::square 2\n"
            "other;other;[unknown] 1\n");
}

TEST(Fold, NoInlineAndNoRootAndOtherValue) {
  Profile p = sample_profile();
  FoldOptions o;
  o.inline_frames = false;
  o.process_root = false;
  o.annotate = false;
  o.value_index = 1;
  FoldedStacks f = fold(p, o);
  EXPECT_EQ(f.value_type, "cpu");
  EXPECT_EQ(f.value_unit, "nanoseconds");
  EXPECT_EQ(format_folded(f),
            "[unknown] 1000\n"
            "main;liblzma.so.5.4.1+0x15a20;do_syscall_64 2000\n"
            "main;truth::Worker::compute_alpha 9000\n");
}

TEST(Fold, HostileNamesCannotBreakTheFormat) {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}};
  b.set_sample_types(types);
  FunctionId f = b.add_function("evil;name\nwith newline", "", "");
  Line lines[] = {{f, 0, 0}};
  LocationId loc = b.add_location(MappingId{}, 1, lines);
  int64_t v[] = {1};
  b.add_sample(std::span(&loc, 1), v, {});
  Profile p = std::move(b).finish();
  EXPECT_EQ(format_folded(fold(p)), "evil:name?with newline 1\n");
}

// A Python program under the interpreter: native frames, Python frames in the Python mapping,
// and a C function called from Python.
Profile python_profile() {
  ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"}};
  b.set_sample_types(types);
  Mapping exe;
  exe.filename = b.intern("/usr/bin/python3.11");
  MappingId exe_id = b.add_mapping(exe);
  Mapping py;
  py.filename = b.intern(kPythonMappingName);
  py.kind = MappingKind::kPython;
  MappingId py_id = b.add_mapping(py);
  FunctionId start = b.add_function("_start", "_start", "");
  FunctionId deflate = b.add_function("deflate", "deflate", "");
  FunctionId main_py = b.add_function("main", "main", "/srv/app/app.py", 10);
  FunctionId handle = b.add_function("Server.handle", "Server.handle", "/srv/app/app.py", 38);
  Line l_start[] = {{start, 0, 0}};
  Line l_deflate[] = {{deflate, 0, 0}};
  Line l_main[] = {{main_py, 12, 0}};
  Line l_handle40[] = {{handle, 40, 0}};
  Line l_handle41[] = {{handle, 41, 0}};
  LocationId s = b.add_location(exe_id, 0x10, l_start);
  LocationId d = b.add_location(exe_id, 0x20, l_deflate);
  LocationId m = b.add_location(py_id, 0, l_main);
  LocationId h40 = b.add_location(py_id, 1, l_handle40);
  LocationId h41 = b.add_location(py_id, 2, l_handle41);
  LocationId s1[] = {d, h40, m, s};
  LocationId s2[] = {h41, m, s};
  int64_t v3[] = {3};
  int64_t v1[] = {1};
  b.add_sample(s1, v3, {});
  b.add_sample(s2, v1, {});
  return std::move(b).finish();
}

TEST(Fold, PythonFramesAreFunctionWithFileBaseNameAndLine) {
  Profile p = python_profile();
  EXPECT_EQ(format_folded(fold(p)),
            "_start;main (app.py:12);Server.handle (app.py:40);deflate 3\n"
            "_start;main (app.py:12);Server.handle (app.py:41) 1\n");
  FoldOptions by_function;
  by_function.python_lines = false;
  EXPECT_EQ(format_folded(fold(p, by_function)),
            "_start;main (app.py);Server.handle (app.py) 1\n"
            "_start;main (app.py);Server.handle (app.py);deflate 3\n");
}

TEST(Fold, PythonNamesAreRecognisedByTheirEnding) {
  std::string_view bare;
  EXPECT_EQ(frame_kind("handle (app.py:40)", &bare), MappingKind::kPython);
  EXPECT_EQ(bare, "handle (app.py:40)");
  EXPECT_EQ(frame_kind("<module> (<frozen runpy>:88)"), MappingKind::kPython);
  EXPECT_EQ(frame_kind("Server.handle (app.py)"), MappingKind::kPython);
  EXPECT_EQ(frame_kind("<lambda> (<string>)"), MappingKind::kPython);
  // C and C++ names are not Python.
  EXPECT_EQ(frame_kind("foo(int)"), MappingKind::kFile);
  EXPECT_EQ(frame_kind("(anonymous namespace)::run"), MappingKind::kFile);
  EXPECT_EQ(frame_kind("operator() (x)"), MappingKind::kFile);
  EXPECT_EQ(frame_kind("run (deleted)"), MappingKind::kFile);
  EXPECT_EQ(frame_kind("read_[k]"), MappingKind::kKernel);
  EXPECT_EQ(python_frame_name("f", "/a/b/c.py", 7), "f (c.py:7)");
  EXPECT_EQ(python_frame_name("f", "c.py", 0), "f (c.py)");
  EXPECT_EQ(python_frame_name("f", "", 3), "f (<unknown>:3)");
}

TEST(Folded, PythonFramesSurviveFoldedToProfileAndBack) {
  const std::string text =
      "python3;_start;<module> (<frozen runpy>:88) 1\n"
      "python3;_start;main (app.py:12);Server.handle (app.py:40);deflate 3\n";
  auto parsed = parse_folded(text, "x");
  ASSERT_TRUE(parsed);
  Profile p = to_profile(*parsed);
  EXPECT_EQ(format_folded(fold(p)), text);
  bool found = false;
  for (const Location& l : p.locations) {
    const Function& f = p.function(l.lines[0].function);
    if (p.str(f.name) == "Server.handle") {
      found = true;
      ASSERT_TRUE(l.mapping.valid());
      EXPECT_EQ(p.mapping(l.mapping).kind, MappingKind::kPython);
      EXPECT_EQ(p.str(p.mapping(l.mapping).filename), kPythonMappingName);
      EXPECT_EQ(p.str(f.filename), "app.py");
      EXPECT_EQ(l.lines[0].line, 40);
    }
  }
  EXPECT_TRUE(found);
}

TEST(Profile, DefaultValueIndexFollowsPprof) {
  Profile p = sample_profile();
  EXPECT_EQ(p.default_value_index(), 0u);  // default_sample_type = samples
  p.default_sample_type = StringId{};
  EXPECT_EQ(p.default_value_index(), 1u);  // else the last one
  auto missing = p.value_index("alloc_space");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "no sample type 'alloc_space' (the profile has: samples, cpu)");
}

}  // namespace
}  // namespace ember::profile
