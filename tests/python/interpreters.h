#pragma once
// The CPython interpreters installed on this machine that the reader tests run: pyenv's
// $PYENV_ROOT/versions/3.X.Y (default /root/.pyenv) and Debian's /usr/bin/python3.11.

#include <map>
#include <optional>
#include <string>

namespace ember::python::testing {

// Test names: "3_8" ... "3_13" (pyenv), "debian_3_11". nullopt when that one is absent.
std::optional<std::string> interpreter_path(const std::string& name);
// The version the interpreter reports for itself, "3.11.7" (runs it once).
std::string reported_version(const std::string& path);
// Line numbers of the "# MARK:name" comments of a script.
std::map<std::string, int> marks(const std::string& script);

}  // namespace ember::python::testing
