// merge_python_stack on synthetic stacks: frames are named by letters so that each expected
// merged stack reads like the flamegraph it becomes (leaf first here, as RawFrames are).

#include "collector/python_merge.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace ember::collector {
namespace {

using profile::ModuleId;
using profile::RawFrame;

constexpr ModuleId kLib{0};     // native code
constexpr ModuleId kPython{1};  // the kPython pseudo-module
constexpr ModuleId kJit{2};     // anonymous memory (-X perf trampolines)

// A native stack described leaf first: "E" frames are eval-loop frames, "T" trampolines, other
// names ordinary native functions. Each name gets its own offset so the result can be read back.
struct Native {
  std::vector<RawFrame> frames;
  std::vector<NativeRole> roles;
};

class Names {
 public:
  RawFrame native(const std::string& name) {
    return RawFrame{name.starts_with("T") ? kJit : kLib, id(name)};
  }
  RawFrame python(const std::string& name) { return RawFrame{kPython, id(name)}; }
  std::string name(const RawFrame& f) const {
    std::string n = names_.at(f.offset);
    return f.module == kPython ? n + "()" : n;
  }
  std::string text(const std::vector<RawFrame>& frames) const {
    std::string s;
    for (const RawFrame& f : frames) s += (s.empty() ? "" : ";") + name(f);
    return s;
  }

 private:
  uint64_t id(const std::string& name) {
    for (const auto& [offset, n] : names_) {
      if (n == name) return offset;
    }
    uint64_t offset = names_.size() + 1;
    names_[offset] = name;
    return offset;
  }
  std::map<uint64_t, std::string> names_;
};

Native native_stack(Names& names, const std::vector<std::string>& leaf_first) {
  Native n;
  for (const std::string& s : leaf_first) {
    n.frames.push_back(names.native(s));
    n.roles.push_back(s.starts_with("E")   ? NativeRole::kEval
                      : s.starts_with("T") ? NativeRole::kAnonymousCode
                                           : NativeRole::kOther);
  }
  return n;
}

// Python frames leaf first; a trailing '*' marks an entry frame.
std::vector<PythonMergeFrame> python_stack(Names& names, const std::vector<std::string>& leaf_first) {
  std::vector<PythonMergeFrame> out;
  for (std::string s : leaf_first) {
    bool entry = s.ends_with('*');
    if (entry) s.pop_back();
    out.push_back(PythonMergeFrame{names.python(s), entry});
  }
  return out;
}

struct Merged {
  MergeResult result;
  std::string stack;
};

Merged merge(Names& names, const std::vector<std::string>& native, const std::vector<std::string>& python,
             bool complete = true) {
  Native n = native_stack(names, native);
  auto p = python_stack(names, python);
  std::vector<RawFrame> out;
  Merged m;
  m.result = merge_python_stack(n.frames, n.roles, complete, p, out);
  m.stack = names.text(out);
  return m;
}

TEST(PythonMerge, ThreeElevenStyleSegmentsReplaceTheirEvalFrames) {
  // main called work in the same eval call (3.11+: no C recursion), work called map(), whose
  // callback handle runs in a nested eval call and called zlib.compress.
  Names names;
  Merged m = merge(names,
                   {"deflate", "zlib_compress_impl", "cfunction_call", "E1", "_PyEval_Vector", "builtin_map",
                    "E2", "PyEval_EvalCode", "Py_RunMain", "main", "_start"},
                   {"handle*", "work", "main*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMerged);
  EXPECT_EQ(m.result.eval_frames, 2u);
  EXPECT_EQ(m.result.python_segments, 2u);
  EXPECT_EQ(m.stack,
            "deflate;zlib_compress_impl;cfunction_call;handle();_PyEval_Vector;builtin_map;work();main();"
            "PyEval_EvalCode;Py_RunMain;main;_start");
}

TEST(PythonMerge, EveryFrameAnEntryBeforeThreeEleven) {
  // 3.8-3.10: one _PyEval_EvalFrameDefault per Python frame, glue between them kept.
  Names names;
  Merged m = merge(names, {"sum_loop", "E1", "function_code_fastcall", "E2", "function_code_fastcall", "E3",
                           "PyEval_EvalCode", "main"},
                   {"leaf*", "middle*", "module*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMerged);
  EXPECT_EQ(m.stack,
            "sum_loop;leaf();function_code_fastcall;middle();function_code_fastcall;module();PyEval_EvalCode;main");
}

TEST(PythonMerge, AdjacentEvalFramesAreOneEvalLoopCall) {
  // A version whose loop spans two functions (an entry function calling the loop): one call.
  Names names;
  Merged m = merge(names, {"leafC", "E_loop", "E_entry", "main"}, {"f*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMerged);
  EXPECT_EQ(m.result.eval_frames, 1u);
  EXPECT_EQ(m.stack, "leafC;f();main");
}

TEST(PythonMerge, KernelAndCExtensionFramesStayBelowTheirPythonCaller) {
  Names names;
  Merged m = merge(names, {"copy_user_k", "sys_write_k", "write", "_io_write", "E1", "main"}, {"log*"});
  EXPECT_EQ(m.stack, "copy_user_k;sys_write_k;write;_io_write;log();main");
}

TEST(PythonMerge, PerfTrampolineNextToItsEvalFrameIsDropped) {
  // 3.12 -X perf: _PyEval_EvalFrameDefault is called by a py:: trampoline, itself called from
  // libpython; the trampoline names the same Python function the merge puts in.
  Names names;
  Merged m = merge(names, {"PyNumber_Add", "E1", "T_inner", "_PyEval_Vector", "E2", "T_outer", "py_main"},
                   {"inner*", "outer*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMerged);
  EXPECT_EQ(m.result.trampolines, 2u);
  EXPECT_EQ(m.stack, "PyNumber_Add;inner();_PyEval_Vector;outer();py_main");
}

TEST(PythonMerge, AnonymousCodeNotNextToAnEvalFrameIsKept) {
  Names names;
  Merged m = merge(names, {"T_jitted", "E1", "main"}, {"f*"});
  EXPECT_EQ(m.result.trampolines, 0u);
  EXPECT_EQ(m.stack, "T_jitted;f();main");
}

TEST(PythonMerge, FewerPythonSegmentsPairFromTheRootAndKeepTheLeafEvalNative) {
  // The thread returned from the nested call before its Python stack was read.
  Names names;
  Merged m = merge(names, {"work_c", "E1", "builtin_map", "E2", "main"}, {"main_py*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kFewerPythonSegments);
  EXPECT_EQ(m.result.eval_frames, 2u);
  EXPECT_EQ(m.result.python_segments, 1u);
  EXPECT_EQ(m.stack, "work_c;E1;builtin_map;main_py();main");
}

TEST(PythonMerge, MorePythonSegmentsPairFromTheRootAndLeaveTheLeafSegmentsOut) {
  // The thread went deeper (into a nested eval call) before its Python stack was read: the new
  // leaf segment has no native frame to stand for and is not shown.
  Names names;
  Merged m = merge(names, {"PyLong_Add", "E1", "main"}, {"callback*", "main_py*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMorePythonSegments);
  EXPECT_EQ(m.stack, "PyLong_Add;main_py();main");
}

TEST(PythonMerge, CutNativeStackPairsFromTheLeafAndPutsTheCallersAbove) {
  // Deep recursion: the stack copy ended after two eval frames; the Python stack has five
  // segments, the three outermost go above where the native stack stops.
  Names names;
  Merged m = merge(names, {"leaf_c", "E1", "glue", "E2", "glue"}, {"r5*", "r4*", "r3*", "r2*", "r1*"},
                   /*complete=*/false);
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMergedBelowCut);
  EXPECT_EQ(m.stack, "leaf_c;r5();glue;r4();glue;r3();r2();r1()");
}

TEST(PythonMerge, CutNativeStackWithMoreEvalFramesThanSegmentsKeepsTheRestNative) {
  Names names;
  Merged m = merge(names, {"E1", "glue", "E2", "glue", "E3"}, {"a*", "b*"}, /*complete=*/false);
  EXPECT_EQ(m.result.outcome, MergeOutcome::kFewerPythonSegments);
  EXPECT_EQ(m.stack, "a();glue;b();glue;E3");
}

TEST(PythonMerge, NoEvalFrameInAWholeStackKeepsItNative) {
  Names names;
  Merged m = merge(names, {"poll_k", "epoll_wait", "event_loop", "main"}, {"f*"});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kNoEvalFrames);
  EXPECT_EQ(m.stack, "poll_k;epoll_wait;event_loop;main");
}

TEST(PythonMerge, EmptyPythonStackKeepsTheNativeStack) {
  Names names;
  Merged m = merge(names, {"x", "E1", "main"}, {});
  EXPECT_EQ(m.result.outcome, MergeOutcome::kNoPythonFrames);
  EXPECT_EQ(m.stack, "x;E1;main");
}

TEST(PythonMerge, FramesAfterTheLastEntryFrameMakeASegment) {
  // A chain whose root frame is not marked as entered from C (damaged or unusual) still merges.
  Names names;
  Merged m = merge(names, {"E1", "E_", "glue", "E2", "main"}, {"a", "b*", "c", "d"});
  EXPECT_EQ(m.result.python_segments, 2u);
  EXPECT_EQ(m.result.eval_frames, 2u);
  EXPECT_EQ(m.stack, "a();b();glue;c();d();main");
}

TEST(PythonMerge, DeepRecursionKeepsEveryFrameInOrder) {
  Names names;
  std::vector<std::string> native{"leaf_c"}, python;
  for (int i = 0; i < 60; ++i) {
    native.push_back("E" + std::to_string(i));
    native.push_back("call_" + std::to_string(i));
    python.push_back("r" + std::to_string(i) + "*");
  }
  native.push_back("main");
  Merged m = merge(names, native, python);
  EXPECT_EQ(m.result.outcome, MergeOutcome::kMerged);
  std::string expected = "leaf_c";
  for (int i = 0; i < 60; ++i) expected += ";r" + std::to_string(i) + "();call_" + std::to_string(i);
  EXPECT_EQ(m.stack, expected + ";main");
}

}  // namespace
}  // namespace ember::collector
