#include "collector/python_targets.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace ember::collector {

namespace {

std::string_view base_name(std::string_view path) { return path.substr(path.rfind('/') + 1); }

// The interpreter and its arguments from a #! line; empty when the file has none.
std::vector<std::string> shebang(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line) || !line.starts_with("#!")) return {};
  std::istringstream words(line.substr(2));
  std::vector<std::string> out;
  for (std::string w; words >> w;) out.push_back(w);
  return out;
}

bool names_python(const std::string& path) {
  if (may_be_python(path)) return true;
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(path, ec);
  return !ec && may_be_python(real.string());
}

}  // namespace

bool may_be_python(std::string_view path) {
  const std::string_view base = base_name(path);
  return base.starts_with("libpython") || base.starts_with("python");
}

bool launches_python(const std::string& executable) {
  if (names_python(executable)) return true;
  const std::vector<std::string> line = shebang(executable);
  if (line.empty()) return false;
  if (base_name(line[0]) != "env") return names_python(line[0]);
  // #!/usr/bin/env [-S] [NAME=VALUE...] python3 ...: the first word that is neither.
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i].starts_with('-') || line[i].find('=') != std::string::npos) continue;
    return may_be_python(line[i]);
  }
  return false;
}

bool runs_python(const ProcFs& procfs, int32_t pid) {
  auto maps = procfs.maps(pid);
  if (!maps) return false;
  for (const MapsEntry& m : *maps) {
    if (m.inode != 0 && may_be_python(m.path)) return true;
  }
  return false;
}

}  // namespace ember::collector
