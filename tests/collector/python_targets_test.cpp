// Which targets --off-cpu wakes the poller for at every switch: those that run CPython.

#include "collector/python_targets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ember::collector {
namespace {

namespace fs = std::filesystem;

class PythonTargets : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ember-python-targets-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(PythonTargets, MappedFilesNamedLikeCPython) {
  EXPECT_TRUE(may_be_python("/usr/bin/python3.11"));
  EXPECT_TRUE(may_be_python("/opt/py/lib/libpython3.8.so.1.0"));
  EXPECT_FALSE(may_be_python("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  // An extension module of the interpreter is not the interpreter.
  EXPECT_FALSE(may_be_python("/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so"));
}

TEST_F(PythonTargets, ACommandStartsCPythonByNameSymlinkOrScriptLine) {
  const std::string interpreter = write("bin/python3.12", "\x7f" "ELF");
  EXPECT_TRUE(launches_python(interpreter));
  // `tool` -> python3.12: what runs is the link's target.
  fs::create_symlink(interpreter, dir_ / "tool");
  EXPECT_TRUE(launches_python((dir_ / "tool").string()));
  EXPECT_TRUE(launches_python(write("direct.py", "#!" + interpreter + " -u\nprint(1)\n")));
  EXPECT_TRUE(launches_python(write("env.py", "#!/usr/bin/env python3\nprint(1)\n")));
  EXPECT_TRUE(launches_python(write("env_s.py", "#!/usr/bin/env -S PYTHONPATH=/x python3 -u\nprint(1)\n")));

  EXPECT_FALSE(launches_python(write("pingpong", "\x7f" "ELF")));
  EXPECT_FALSE(launches_python(write("run.sh", "#!/bin/sh\nexec python3 app.py\n")));
  EXPECT_FALSE(launches_python(write("env.rb", "#!/usr/bin/env ruby\nputs 1\n")));
  EXPECT_FALSE(launches_python((dir_ / "missing").string()));
}

TEST_F(PythonTargets, AProcessRunsCPythonWhenItMapsOne) {
  write("proc/100/maps",
        "00400000-00401000 r-xp 00000000 08:01 12 /usr/bin/app\n"
        "7f0000000000-7f0000100000 r-xp 00000000 08:01 13 /usr/lib/libpython3.11.so.1.0\n");
  write("proc/200/maps",
        "00400000-00401000 r-xp 00000000 08:01 12 /usr/bin/app\n"
        "7f0000000000-7f0000001000 rwxp 00000000 00:00 0 \n");
  const ProcFs procfs((dir_ / "proc").string());
  EXPECT_TRUE(runs_python(procfs, 100));
  EXPECT_FALSE(runs_python(procfs, 200));
  EXPECT_FALSE(runs_python(procfs, 300));  // gone
}

}  // namespace
}  // namespace ember::collector
