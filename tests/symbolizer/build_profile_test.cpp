// build_profile with a test double: what a Profile looks like for a hand-made RawProfile, and
// that each unique (module, offset) is asked for once, in one batch per module.

#include "symbolizer/build_profile.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "profile/folded.h"
#include "tests/support/fake_symbolizer.h"

namespace ember::symbolizer {
namespace {

using profile::MappingKind;

// The shared double (tests/support/fake_symbolizer.h: "<path>_<hex offset>", 0x..ff unknown,
// 0x..ee inlined), with "app" 100000 bytes long.
class FakeSymbolizer : public ember::testing::FakeSymbolizer {
 public:
  FakeSymbolizer() { module_infos["app"] = ModuleInfo{100000}; }
};

std::shared_ptr<const profile::Module> module(MappingKind kind, std::string path, std::string build_id_hex = "") {
  auto m = std::make_shared<profile::Module>();
  m->kind = kind;
  m->path = std::move(path);
  m->build_id = common::BuildId::from_hex(build_id_hex);
  return m;
}

struct Fixture {
  profile::RawProfile raw;
  profile::ModuleId libc, app, kernel;

  Fixture() {
    libc = raw.add_module(module(MappingKind::kFile, "libc", "aabb"));
    app = raw.add_module(module(MappingKind::kFile, "app", "ccdd"));
    kernel = raw.add_module(module(MappingKind::kKernel, "[kernel.kallsyms]"));
    raw.start_time_ns = 1'000'000'000;
    raw.end_time_ns = 3'000'000'000;
    raw.period_ns = 10'000'000;
    profile::SampleOrigin worker{10, 11, raw.intern("server"), raw.intern("worker")};
    profile::SampleOrigin main_thread{10, 10, raw.intern("server"), raw.intern("server")};
    // libc has the most samples; app is the main module.
    const profile::RawFrame a[] = {{libc, 0x100}, {libc, 0x200}, {app, 0x10}};
    const profile::RawFrame b[] = {{kernel, 0xffffffff81000010}, {libc, 0x100}, {app, 0xee}};
    const profile::RawFrame c[] = {{libc, 0x2ff}, {profile::ModuleId{}, 0xdead}, {app, 0x10}};
    raw.add_sample(worker, a, 10'000'000, 5);
    raw.add_sample(main_thread, b, 20'000'000, 2);
    raw.add_sample(worker, c, 10'000'000, 1);
    raw.add_sample(worker, a, 10'000'000, 1);
  }
};

TEST(BuildProfile, SampleTypesPeriodAndTimes) {
  Fixture f;
  FakeSymbolizer symbolizer;
  BuildOptions options;
  options.comments = {"ember record -p 10"};
  profile::Profile p = build_profile(f.raw, symbolizer, options);
  ASSERT_EQ(p.sample_types.size(), 2u);
  EXPECT_EQ(p.str(p.sample_types[0].type), "samples");
  EXPECT_EQ(p.str(p.sample_types[0].unit), "count");
  EXPECT_EQ(p.str(p.sample_types[1].type), "cpu");
  EXPECT_EQ(p.str(p.sample_types[1].unit), "nanoseconds");
  EXPECT_EQ(p.str(p.default_sample_type), "samples");
  EXPECT_EQ(p.str(p.period_type.type), "cpu");
  EXPECT_EQ(p.str(p.period_type.unit), "nanoseconds");
  EXPECT_EQ(p.period, 10'000'000);
  EXPECT_EQ(p.time_nanos, 1'000'000'000);
  EXPECT_EQ(p.duration_nanos, 2'000'000'000);
  ASSERT_EQ(p.comments.size(), 1u);
  EXPECT_EQ(p.str(p.comments[0]), "ember record -p 10");
  EXPECT_EQ(p.total(0), 9);
  EXPECT_EQ(p.total(1), 50'000'000);
}

TEST(BuildProfile, EachUniqueAddressIsSymbolizedOnceInOneBatchPerModule) {
  Fixture f;
  FakeSymbolizer symbolizer;
  build_profile(f.raw, symbolizer);
  std::map<std::string, std::vector<uint64_t>> by_module;
  for (const auto& call : symbolizer.calls) {
    EXPECT_FALSE(by_module.contains(call.path)) << call.path << " asked for twice";
    by_module[call.path] = call.offsets;
  }
  EXPECT_EQ(by_module["libc"], (std::vector<uint64_t>{0x100, 0x200, 0x2ff}));
  EXPECT_EQ(by_module["app"], (std::vector<uint64_t>{0x10, 0xee}));
  EXPECT_EQ(by_module["[kernel.kallsyms]"], (std::vector<uint64_t>{0xffffffff81000010}));
  EXPECT_EQ(symbolizer.calls.size(), 3u);
}

TEST(BuildProfile, MappingsMainModuleFirst) {
  Fixture f;
  FakeSymbolizer symbolizer;
  f.raw.main_module = f.app;
  profile::Profile p = build_profile(f.raw, symbolizer);
  ASSERT_EQ(p.mappings.size(), 3u);
  EXPECT_EQ(p.str(p.mappings[0].filename), "app");
  EXPECT_EQ(p.str(p.mappings[0].build_id), "ccdd");
  EXPECT_EQ(p.mappings[0].memory_start, 0u);
  EXPECT_EQ(p.mappings[0].file_offset, 0u);
  EXPECT_EQ(p.mappings[0].memory_limit, 100000u);  // the file's size from module_info
  EXPECT_TRUE(p.mappings[0].has_functions);
  EXPECT_TRUE(p.mappings[0].has_filenames);
  EXPECT_TRUE(p.mappings[0].has_line_numbers);
  EXPECT_TRUE(p.mappings[0].has_inline_frames);  // 0xee
  EXPECT_EQ(p.str(p.mappings[1].filename), "libc");
  EXPECT_EQ(p.mappings[1].memory_limit, 0x300u);  // size unknown: covers the offsets seen
  EXPECT_FALSE(p.mappings[1].has_inline_frames);
  EXPECT_EQ(p.str(p.mappings[2].filename), "[kernel.kallsyms]");
  EXPECT_EQ(p.mappings[2].kind, MappingKind::kKernel);
  EXPECT_EQ(p.mappings[2].memory_limit, UINT64_MAX);
}

TEST(BuildProfile, WithoutMainModuleTheFileWithMostSamplesComesFirst) {
  Fixture f;
  FakeSymbolizer symbolizer;
  profile::Profile p = build_profile(f.raw, symbolizer);
  ASSERT_EQ(p.mappings.size(), 3u);
  // libc and app are in every stack (9 samples each); the tie goes to the first module met.
  EXPECT_EQ(p.str(p.mappings[0].filename), "libc");

  profile::RawProfile raw;
  auto small = raw.add_module(module(MappingKind::kFile, "small"));
  auto big = raw.add_module(module(MappingKind::kFile, "big"));
  auto kernel = raw.add_module(module(MappingKind::kKernel, "[kernel.kallsyms]"));
  profile::SampleOrigin o{1, 1, raw.intern("x"), raw.intern("x")};
  const profile::RawFrame s1[] = {{kernel, 0xffff0000}, {small, 1}};
  const profile::RawFrame s2[] = {{kernel, 0xffff0000}, {big, 2}};
  raw.add_sample(o, s1, 1, 3);
  raw.add_sample(o, s2, 1, 5);
  raw.add_sample(o, std::span<const profile::RawFrame>(s1, 1), 1, 50);  // kernel only: not a file
  FakeSymbolizer fake;
  p = build_profile(raw, fake);
  ASSERT_EQ(p.mappings.size(), 3u);
  EXPECT_EQ(p.str(p.mappings[0].filename), "big");
  EXPECT_EQ(p.str(p.mappings[1].filename), "small");
}

TEST(BuildProfile, LocationsFunctionsAndLabels) {
  Fixture f;
  FakeSymbolizer symbolizer;
  profile::Profile p = build_profile(f.raw, symbolizer);
  // One location per unique (module, offset), plus one for the address in no mapping.
  EXPECT_EQ(p.locations.size(), 7u);
  size_t checked = 0;
  for (const profile::Sample& s : p.samples) {
    EXPECT_EQ(p.num_label(s, "pid"), 10);
    auto tid = p.num_label(s, "tid");
    ASSERT_TRUE(tid);
    EXPECT_EQ(p.str_label(s, "comm"), "server");
    EXPECT_EQ(p.str_label(s, "thread_comm"), *tid == 11 ? "worker" : "server");
    if (*tid == 10) {
      // kernel leaf, libc, then app at 0xee with an inlined frame (innermost first).
      ASSERT_EQ(s.locations.size(), 3u);
      EXPECT_EQ(s.values, (std::vector<int64_t>{2, 20'000'000}));
      const profile::Location& leaf = p.location(s.locations[0]);
      EXPECT_EQ(leaf.address, 0xffffffff81000010u);
      const profile::Location& app = p.location(s.locations[2]);
      EXPECT_EQ(app.address, 0xeeu);
      ASSERT_EQ(app.lines.size(), 2u);
      const profile::Function& inner = p.function(app.lines[0].function);
      EXPECT_EQ(p.str(inner.name), "inl_app_ee");
      EXPECT_EQ(p.str(inner.system_name), "_Zinl_app_ee");
      EXPECT_EQ(p.str(inner.filename), "inl.h");
      EXPECT_EQ(app.lines[0].line, 7);
      EXPECT_EQ(app.lines[0].column, 3);
      const profile::Function& outer = p.function(app.lines[1].function);
      EXPECT_EQ(p.str(outer.name), "app_ee");
      EXPECT_EQ(p.str(outer.filename), "app.c");
      EXPECT_EQ(app.lines[1].line, 42);
      ++checked;
    } else if (s.values[0] == 1) {
      // libc 0x2ff is unknown (no lines); 0xdead lies in no mapping.
      ASSERT_EQ(s.locations.size(), 3u);
      const profile::Location& unknown = p.location(s.locations[0]);
      EXPECT_TRUE(unknown.lines.empty());
      EXPECT_TRUE(unknown.mapping.valid());
      EXPECT_EQ(unknown.address, 0x2ffu);
      const profile::Location& unmapped = p.location(s.locations[1]);
      EXPECT_FALSE(unmapped.mapping.valid());
      EXPECT_EQ(unmapped.address, 0xdeadu);
      ++checked;
    } else {
      EXPECT_EQ(s.values, (std::vector<int64_t>{6, 20'000'000}));  // the same stack, added twice
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3u);

  // The way frames are named later: unknown addresses as module+0xOFFSET.
  profile::FoldOptions fold_options;
  fold_options.value_index = 0;
  auto folded = profile::fold(p, fold_options);
  std::string text = profile::format_folded(folded);
  EXPECT_NE(text.find("server;app_10;libc_200;libc_100 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server;app_10;[unknown];libc+0x2ff 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server;app_ee;inl_app_ee;libc_100;[kernel.kallsyms]_ffffffff81000010_[k] 2\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace ember::symbolizer

namespace ember::symbolizer {
namespace {

TEST(BuildProfile, PythonFramesBecomeFunctionsWithFileAndLinesInAPythonMapping) {
  profile::RawProfile raw;
  auto exe = raw.add_module(module(MappingKind::kFile, "app", "ccdd"));
  auto py = raw.add_module(module(MappingKind::kPython, std::string(profile::kPythonMappingName)));
  const uint32_t main40 = *raw.add_python_frame("main", "/srv/app/app.py", 12, 10);
  const uint32_t handle = *raw.add_python_frame("Server.handle", "/srv/app/app.py", 40, 38);
  const uint32_t handle41 = *raw.add_python_frame("Server.handle", "/srv/app/app.py", 41, 38);
  profile::SampleOrigin o{7, 7, raw.intern("python3"), raw.intern("python3")};
  const profile::RawFrame a[] = {{exe, 0x10}, {py, handle}, {py, main40}, {exe, 0x20}};
  const profile::RawFrame b[] = {{py, handle41}, {py, main40}, {exe, 0x20}};
  raw.add_sample(o, a, 1000, 3);
  raw.add_sample(o, b, 1000, 1);
  FakeSymbolizer symbolizer;
  profile::Profile p = build_profile(raw, symbolizer);
  // The symbolizer is never asked about Python frames: they are names already.
  for (const auto& call : symbolizer.calls) EXPECT_NE(call.path, profile::kPythonMappingName);
  const profile::Mapping* python_mapping = nullptr;
  for (const profile::Mapping& m : p.mappings) {
    if (m.kind == MappingKind::kPython) python_mapping = &m;
  }
  ASSERT_NE(python_mapping, nullptr);
  EXPECT_EQ(p.str(python_mapping->filename), profile::kPythonMappingName);
  EXPECT_TRUE(python_mapping->has_functions && python_mapping->has_filenames && python_mapping->has_line_numbers);
  // One function per Python function (both lines of handle share it), with its full path and
  // first line; one location per line.
  size_t handle_functions = 0;
  for (const profile::Function& f : p.functions) {
    if (p.str(f.name) != "Server.handle") continue;
    ++handle_functions;
    EXPECT_EQ(p.str(f.filename), "/srv/app/app.py");
    EXPECT_EQ(f.start_line, 38);
  }
  EXPECT_EQ(handle_functions, 1u);
  std::set<int64_t> handle_lines;
  for (const profile::Location& l : p.locations) {
    ASSERT_FALSE(l.lines.empty() && l.mapping.valid() && p.mapping(l.mapping).kind == MappingKind::kPython);
    if (!l.lines.empty() && p.str(p.function(l.lines[0].function).name) == "Server.handle") {
      ASSERT_EQ(l.lines.size(), 1u);
      handle_lines.insert(l.lines[0].line);
    }
  }
  EXPECT_EQ(handle_lines, (std::set<int64_t>{40, 41}));
  profile::FoldOptions fold_options;
  fold_options.value_index = 0;
  EXPECT_EQ(profile::format_folded(profile::fold(p, fold_options)),
            "python3;app_20;main (app.py:12);Server.handle (app.py:40);app_10 3\n"
            "python3;app_20;main (app.py:12);Server.handle (app.py:41) 1\n");
}

}  // namespace
}  // namespace ember::symbolizer
