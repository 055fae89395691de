#pragma once
// One profile::Module per binary, shared by every process and window that maps it. A file is
// identified by its build-id (from MMAP2, else read from the file once per device+inode), else
// by device+inode. Files are opened without following the target's view blindly: through
// /proc/PID/map_files/START-END (the very file mapped, even deleted), then /proc/PID/root/PATH
// (the target's mount namespace), then PATH; each candidate is checked against the identity
// the kernel reported (device+inode, or build-id) before it is kept. The open fd stays in the
// Module (bounded count) so binaries of exited processes can still be symbolized.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collector/procfs.h"
#include "common/types.h"
#include "profile/raw_profile.h"

namespace ember::collector {

// What is known about one executable mapping when its module is looked up.
struct MappingSource {
  int32_t pid = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t page_offset = 0;
  std::string_view path;
  bool deleted = false;
  // Zero when unknown (an MMAP2 that carries a build-id instead).
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t inode = 0;
  std::span<const std::byte> build_id;  // from MMAP2; empty when absent
};

// How a mapping's name classifies it.
enum class MappingClass {
  kFile,       // a path: an ELF file (or memfd) to open
  kVdso,       // "[vdso]"
  kAnonymous,  // anonymous executable memory: JIT code (kJit module of the process)
  kIgnored,    // "[vsyscall]", "[uprobes]": nothing to symbolize, no module
};
MappingClass classify_mapping(std::string_view path);

struct ModuleCacheStats {
  uint64_t build_ids_read = 0;     // files whose build-id ember read itself
  uint64_t open_failures = 0;      // no candidate path could be opened and verified
  uint64_t identity_mismatches = 0;  // a candidate path held another file than the one mapped
};

class ModuleCache {
 public:
  ModuleCache(ProcFs procfs, size_t max_held_files, size_t max_modules = 16384);

  const std::shared_ptr<const profile::Module>& kernel() const { return kernel_; }
  std::shared_ptr<const profile::Module> vdso(int32_t pid);
  // A new module per call: the process owns its JIT module (dropped with the process).
  std::shared_ptr<const profile::Module> jit(int32_t pid) const;
  // The module of a file mapping; never null (without an openable file the module still
  // carries path and identity).
  std::shared_ptr<const profile::Module> file(const MappingSource& source);

  size_t module_count() const;
  size_t held_files();
  const ModuleCacheStats& stats() const { return stats_; }

 private:
  struct FileKey {
    uint64_t device;
    uint64_t inode;
    bool operator==(const FileKey&) const = default;
  };
  struct FileKeyHash {
    size_t operator()(const FileKey& k) const noexcept {
      return std::hash<uint64_t>{}(k.device * 0x9e3779b97f4a7c15ull ^ k.inode);
    }
  };

  // Opens the mapped file through the candidate paths, checking identity.
  common::UniqueFd open_verified(const MappingSource& source, const common::BuildId& expected_id);
  std::shared_ptr<const common::UniqueFd> hold_file(common::UniqueFd fd);
  void sweep_if_full();
  void sweep_unused();

  ProcFs procfs_;
  size_t max_held_files_;
  size_t max_modules_;
  std::shared_ptr<const profile::Module> kernel_;
  std::shared_ptr<const profile::Module> vdso_;
  std::unordered_map<FileKey, std::shared_ptr<const profile::Module>, FileKeyHash> by_file_;
  std::unordered_map<common::BuildId, std::shared_ptr<const profile::Module>> by_build_id_;
  std::vector<std::weak_ptr<const common::UniqueFd>> held_;
  ModuleCacheStats stats_;
};

// The running kernel's build-id from /sys/kernel/notes; empty when unavailable.
common::BuildId kernel_build_id();

}  // namespace ember::collector
