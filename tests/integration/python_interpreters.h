#pragma once
// What the Python integration tests share: the interpreters this machine may have (pyenv's
// CPython 3.8-3.13 and Debian's 3.11; tests skip absent ones by name) and reading a written file.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace ember::testing {

struct Interpreter {
  std::string name;  // the test's name for it
  std::string path;
};
inline void PrintTo(const Interpreter& i, std::ostream* os) { *os << i.path; }

// The test programs (tests/integration/python/) and Debian's own interpreter.
inline const std::string kPrograms = std::string(EMBER_SOURCE_DIR) + "/tests/integration/python";
inline const std::string kDebianPython = "/usr/bin/python3.11";

inline std::string pyenv_root() {
  const char* root = std::getenv("PYENV_ROOT");
  return root != nullptr && *root != '\0' ? root : "/root/.pyenv";
}

inline std::vector<Interpreter> interpreters() {
  std::vector<Interpreter> out;
  for (const char* v : {"3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"}) {
    std::string version(v);
    std::string minor = version.substr(0, version.rfind('.'));
    std::string name = "pyenv_" + version;
    std::replace(name.begin(), name.end(), '.', '_');
    out.push_back({name, pyenv_root() + "/versions/" + version + "/bin/python" + minor});
  }
  out.push_back({"debian_3_11", "/usr/bin/python3.11"});
  return out;
}

inline std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ember::testing
