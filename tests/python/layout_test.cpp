// ember's CPython layouts against the interpreters' own headers: a probe (offsets_probe.c) is
// compiled against each installed version's include/ and prints offsetof() of every field;
// the table (3.8–3.12) and the _Py_DebugOffsets parse (3.13) must agree with it field by field.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "python/layout.h"
#include "tests/python/interpreters.h"
#include "tests/support/process.h"

namespace ember::python {
namespace {

namespace fs = std::filesystem;

struct Probe {
  std::map<std::string, uint64_t> fields;
  std::vector<std::byte> debug_offsets;
};

// Compiles and runs the probe for the interpreter at `python` (…/bin/python3.X or /usr/bin).
std::optional<Probe> run_probe(const std::string& python, int minor, std::string& why) {
  fs::path exe(python);
  fs::path prefix = exe.parent_path().parent_path();  // …/versions/3.X.Y or /usr
  std::string name = "python3." + std::to_string(minor);
  fs::path include = prefix / "include" / name;
  if (!fs::exists(include / "internal")) {
    why = include.string() + "/internal is not installed";
    return std::nullopt;
  }
  std::string out = (fs::temp_directory_path() /
                     ("ember_offsets_probe_" + std::to_string(::getpid()) + "_" + name))
                        .string();
  std::vector<std::string> cc = {EMBER_C_COMPILER, "-I" + include.string(),
                                 "-I" + (include / "internal").string(), "-o", out,
                                 std::string(EMBER_SOURCE_DIR) + "/tests/python/offsets_probe.c"};
  if (minor >= 13) {
    // The probe prints the interpreter's own _Py_DebugOffsets: link its libpython.
    cc.push_back("-L" + (prefix / "lib").string());
    cc.push_back("-l" + name);
    cc.push_back("-Wl,-rpath," + (prefix / "lib").string());
  }
  auto built = ember::testing::run(cc);
  if (built.exit_code != 0) {
    why = "the probe does not compile against " + include.string() + ": " + built.err;
    return std::nullopt;
  }
  auto ran = ember::testing::run({out});
  fs::remove(out);
  if (ran.exit_code != 0) {
    why = "the probe failed: " + ran.err;
    return std::nullopt;
  }
  Probe p;
  std::istringstream in(ran.out);
  std::string key, value;
  while (in >> key >> value) {
    if (key == "debug_offsets") {
      for (size_t i = 0; i + 1 < value.size(); i += 2) {
        p.debug_offsets.push_back(static_cast<std::byte>(std::stoul(value.substr(i, 2), nullptr, 16)));
      }
    } else {
      p.fields[key] = std::stoull(value);
    }
  }
  return p;
}

// The probe's names for ember's Layout fields.
std::map<std::string, uint64_t> layout_fields(const Layout& l) {
  std::map<std::string, uint64_t> f = {
      {"runtime.interpreters_head", l.runtime_interpreters_head},
      {"interp.next", l.interp_next},
      {"interp.threads_head", l.interp_threads_head},
      {"tstate.next", l.tstate_next},
      {"tstate.thread_id", l.tstate_thread_id},
      {"tstate.frame", l.tstate_frame},
      {"code.name", l.code_name},
      {"code.filename", l.code_filename},
      {"code.firstlineno", l.code_firstlineno},
      {"code.linetable", l.code_linetable},
      {"bytes.size", l.bytes_size},
      {"bytes.sval", l.bytes_sval},
      {"unicode.length", l.unicode_length},
      {"unicode.state", l.unicode_state},
      {"unicode.ascii_size", l.unicode_ascii_size},
      {"unicode.compact_size", l.unicode_compact_size},
  };
  int minor = l.version.minor;
  if (minor <= 12) f["runtime.main_thread"] = l.runtime_main_thread;
  if (l.frame_model == FrameModel::kFrameObject) {
    f["frame.back"] = l.frame_previous;
    f["frame.code"] = l.frame_code;
    f["frame.lasti"] = l.frame_instr;
    f["frame.executing"] = l.frame_executing;
  } else {
    f["tstate.native_thread_id"] = l.tstate_native_thread_id;
    f["iframe.previous"] = l.frame_previous;
    f["iframe.code"] = l.frame_code;
    f["iframe.instr"] = l.frame_instr;
    f["iframe.owner"] = l.frame_owner;
    f["code.qualname"] = l.code_qualname;
    f["code.code_adaptive"] = l.code_adaptive;
    if (l.frame_via_cframe) f["cframe.current_frame"] = l.cframe_current_frame;
    if (l.frame_model == FrameModel::kEntryFlag) f["iframe.is_entry"] = l.frame_is_entry;
  }
  return f;
}

class LayoutTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LayoutTest, EveryFieldMatchesTheInterpretersHeaders) {
  auto python = testing::interpreter_path(GetParam());
  if (!python) GTEST_SKIP() << "CPython " << GetParam() << " is not installed on this machine";
  std::string version = testing::reported_version(*python);
  ASSERT_FALSE(version.empty());
  int minor = std::stoi(version.substr(2));
  std::string why;
  auto probe = run_probe(*python, minor, why);
  if (!probe) GTEST_SKIP() << "CPython " << version << ": " << why;

  Layout layout;
  if (minor <= 12) {
    auto builtin = builtin_layout(minor);
    ASSERT_TRUE(builtin.has_value());
    layout = *builtin;
  } else {
    ASSERT_EQ(probe->fields["debug_offsets.size"], probe->debug_offsets.size());
    ASSERT_GE(probe->debug_offsets.size(), kDebugOffsetsBytes);
    Version v{3, minor, std::stoi(version.substr(version.rfind('.') + 1))};
    auto parsed = layout_from_debug_offsets(probe->debug_offsets, v);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
    layout = *parsed;
  }
  layout.version.minor = minor;
  std::map<std::string, uint64_t> ours = layout_fields(layout);
  // Every field the probe printed is one ember uses, and the other way round.
  for (const auto& [name, offset] : probe->fields) {
    if (name == "version_hex" || name == "debug_offsets.size") continue;
    ASSERT_TRUE(ours.contains(name)) << name << " is printed by the probe but not compared";
    EXPECT_EQ(ours[name], offset) << "CPython " << version << ": " << name;
  }
  for (const auto& [name, offset] : ours) {
    EXPECT_TRUE(probe->fields.contains(name)) << name << " is not checked by the probe";
  }
}

INSTANTIATE_TEST_SUITE_P(Interpreters, LayoutTest,
                         ::testing::Values("3_8", "3_9", "3_10", "3_11", "3_12", "3_13",
                                           "debian_3_11"),
                         [](const auto& info) { return info.param; });

TEST(LayoutTable, CoversExactlyThreeEightToThreeTwelve) {
  EXPECT_FALSE(builtin_layout(7).has_value());
  for (int minor = 8; minor <= 12; ++minor) {
    auto l = builtin_layout(minor);
    ASSERT_TRUE(l.has_value()) << minor;
    EXPECT_GT(l->frame_size, l->frame_previous);
    EXPECT_GT(l->code_size, l->code_linetable);
  }
  EXPECT_FALSE(builtin_layout(13).has_value());  // 3.13 describes itself
}

}  // namespace
}  // namespace ember::python
