#include "tests/python/interpreters.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/process.h"

namespace ember::python::testing {

std::optional<std::string> interpreter_path(const std::string& name) {
  namespace fs = std::filesystem;
  if (name == "debian_3_11") {
    if (fs::exists("/usr/bin/python3.11")) return "/usr/bin/python3.11";
    return std::nullopt;
  }
  std::string minor = name.substr(2);  // "3_11" → "11"
  const char* root = std::getenv("PYENV_ROOT");
  fs::path versions = fs::path(root ? root : "/root/.pyenv") / "versions";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(versions, ec)) {
    std::string v = entry.path().filename().string();
    if (!v.starts_with("3." + minor + ".")) continue;
    fs::path exe = entry.path() / "bin" / ("python3." + minor);
    if (fs::exists(exe)) return exe.string();
  }
  return std::nullopt;
}

std::string reported_version(const std::string& path) {
  auto r = ember::testing::run(
      {path, "-c", "import platform; print(platform.python_version(), end='')"});
  return r.out;
}

std::map<std::string, int> marks(const std::string& script) {
  std::map<std::string, int> out;
  std::ifstream in(script);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto at = line.find("# MARK:");
    if (at == std::string::npos) continue;
    std::string name = line.substr(at + 7);
    name = name.substr(0, name.find(' '));
    out[name] = n;
  }
  return out;
}

}  // namespace ember::python::testing
