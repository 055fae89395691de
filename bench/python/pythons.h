#pragma once
// Shared by the Python benchmarks: the installed interpreters, and the kernel's floor for
// reading another process's memory.

#include <fmt/format.h>
#include <sys/uio.h>
#include <time.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/proc_maps.h"

namespace ember::bench {

inline double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// pyenv's CPython 3.8–3.13 ($PYENV_ROOT/versions, else /root/.pyenv) and Debian's 3.11.
inline std::vector<std::string> installed_pythons() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const char* root = std::getenv("PYENV_ROOT");
  const fs::path versions = fs::path(root ? root : "/root/.pyenv") / "versions";
  for (int minor = 8; minor <= 13; ++minor) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(versions, ec)) {
      const std::string v = e.path().filename().string();
      const fs::path exe = e.path() / "bin" / fmt::format("python3.{}", minor);
      if (v.starts_with(fmt::format("3.{}.", minor)) && fs::exists(exe)) out.push_back(exe);
    }
  }
  if (fs::exists("/usr/bin/python3.11")) out.push_back("/usr/bin/python3.11");
  return out;
}

// The kernel's floor: CPU µs of `calls` process_vm_readv calls, each of `pieces` pieces of
// `bytes` bytes on as many different pages of the target's heap; -1 when it cannot be read.
inline double raw_read_us(pid_t pid, size_t calls, size_t pieces, size_t bytes, int rounds) {
  auto maps = common::read_maps("/proc", pid);
  if (!maps) return -1;
  uint64_t address = 0;
  for (const auto& m : *maps) {
    if (m.path == "[heap]" && m.end - m.start >= pieces * 4096) address = m.start;
  }
  if (!address) return -1;
  std::vector<char> buffer(bytes * pieces);
  std::vector<iovec> local(pieces), remote(pieces);
  for (size_t p = 0; p < pieces; ++p) {
    local[p] = {buffer.data() + p * bytes, bytes};
    remote[p] = {reinterpret_cast<void*>(address + p * 4096), bytes};
  }
  const double start = thread_cpu_us();
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < calls; ++i) {
      if (::process_vm_readv(pid, local.data(), pieces, remote.data(), pieces, 0) !=
          static_cast<ssize_t>(bytes * pieces)) {
        return -1;
      }
    }
  }
  return (thread_cpu_us() - start) / rounds;
}

}  // namespace ember::bench
