#pragma once
// The one temporary directory of the tests: fresh, removed with everything in it at scope exit.

#include <string>
#include <string_view>

namespace ember::testing {

class TempDir {
 public:
  // Under `base` (created if missing), else under the system's temporary directory.
  explicit TempDir(const std::string& base = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside: dir / "name" and dir.file("name") are the same.
  std::string operator/(std::string_view name) const { return file(name); }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace ember::testing
