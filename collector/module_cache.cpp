#include "collector/module_cache.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "common/files.h"
#include "elf/elf_file.h"

namespace ember::collector {

MappingClass classify_mapping(std::string_view path) {
  if (path == "[vdso]") return MappingClass::kVdso;
  if (path.empty() || path.starts_with("//anon") || path.starts_with("[anon") ||
      path == "[heap]" || path.starts_with("[stack")) {
    return MappingClass::kAnonymous;
  }
  if (path.starts_with('/')) return MappingClass::kFile;
  return MappingClass::kIgnored;
}

common::BuildId kernel_build_id() {
  // ELF notes: namesz, descsz, type, name (padded to 4), desc (padded to 4).
  auto notes = common::read_file("/sys/kernel/notes", 1u << 16);
  if (!notes) return {};
  std::string_view s(*notes);
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, s.data() + at, 4);
    return v;
  };
  size_t at = 0;
  while (at + 12 <= s.size()) {
    uint32_t namesz = u32(at);
    uint32_t descsz = u32(at + 4);
    uint32_t type = u32(at + 8);
    size_t name_at = at + 12;
    size_t desc_at = name_at + ((static_cast<size_t>(namesz) + 3) & ~size_t{3});
    size_t next = desc_at + ((static_cast<size_t>(descsz) + 3) & ~size_t{3});
    if (next > s.size() || next <= at) break;
    constexpr uint32_t kNtGnuBuildId = 3;
    if (type == kNtGnuBuildId && namesz == 4 && s.substr(name_at, 4) == std::string_view("GNU\0", 4) &&
        descsz > 0 && descsz <= 64) {
      return common::BuildId(std::string(s.substr(desc_at, descsz)));
    }
    at = next;
  }
  return {};
}

ModuleCache::ModuleCache(ProcFs procfs, size_t max_held_files, size_t max_modules)
    : procfs_(std::move(procfs)), max_held_files_(max_held_files), max_modules_(max_modules) {
  auto k = std::make_shared<profile::Module>();
  k->kind = profile::MappingKind::kKernel;
  k->path = "[kernel.kallsyms]";
  k->build_id = kernel_build_id();
  kernel_ = std::move(k);
}

std::shared_ptr<const profile::Module> ModuleCache::vdso(int32_t pid) {
  // One vDSO image per kernel (for native processes): one module.
  if (!vdso_) {
    auto m = std::make_shared<profile::Module>();
    m->kind = profile::MappingKind::kVdso;
    m->path = "[vdso]";
    m->pid = pid;
    vdso_ = std::move(m);
  }
  return vdso_;
}

std::shared_ptr<const profile::Module> ModuleCache::jit(int32_t pid) const {
  auto m = std::make_shared<profile::Module>();
  m->kind = profile::MappingKind::kJit;
  m->path = fmt::format("/tmp/perf-{}.map", pid);
  m->pid = pid;
  return m;
}

std::shared_ptr<const common::UniqueFd> ModuleCache::hold_file(common::UniqueFd fd) {
  // Modules nobody uses any more hold fds for nothing: release them before refusing.
  if (held_files() >= max_held_files_) sweep_unused();
  if (held_files() >= max_held_files_) return nullptr;  // the fd closes here
  auto held = std::make_shared<const common::UniqueFd>(std::move(fd));
  held_.push_back(held);
  return held;
}

size_t ModuleCache::held_files() {
  std::erase_if(held_, [](const auto& w) { return w.expired(); });
  return held_.size();
}

size_t ModuleCache::module_count() const {
  // A module is indexed by build-id, by inode, or both (and by several inodes for copies).
  std::unordered_set<const profile::Module*> distinct;
  for (const auto& [k, m] : by_file_) distinct.insert(m.get());
  for (const auto& [k, m] : by_build_id_) distinct.insert(m.get());
  return distinct.size();
}

common::UniqueFd ModuleCache::open_verified(const MappingSource& source,
                                            const common::BuildId& expected_id) {
  std::string path(source.path);
  const std::string candidates[] = {
      procfs_.path(source.pid, fmt::format("map_files/{:x}-{:x}", source.start, source.end)),
      procfs_.path(source.pid, "root") + path,
      path,
  };
  const bool know_inode = source.inode != 0;
  for (const std::string& candidate : candidates) {
    if (candidate == path && source.deleted) continue;  // the path now names another file
    auto fd = common::open_regular_file(candidate);
    if (!fd) continue;
    if (know_inode) {
      struct stat st{};
      if (::fstat(fd->get(), &st) != 0) continue;
      if (st.st_ino != source.inode || st.st_dev != makedev(source.major, source.minor)) {
        stats_.identity_mismatches++;
        continue;
      }
    } else if (!expected_id.empty()) {
      auto id = elf::read_build_id(*fd, candidate);
      stats_.build_ids_read++;
      if (!id || *id != expected_id) {
        stats_.identity_mismatches++;
        continue;
      }
    }
    return std::move(*fd);
  }
  stats_.open_failures++;
  return {};
}

std::shared_ptr<const profile::Module> ModuleCache::file(const MappingSource& source) {
  const bool know_inode = source.inode != 0;
  const FileKey key{know_inode ? static_cast<uint64_t>(makedev(source.major, source.minor)) : 0,
                    source.inode};
  if (know_inode) {
    if (auto it = by_file_.find(key); it != by_file_.end()) return it->second;
  }
  common::BuildId build_id;
  if (!source.build_id.empty()) {
    build_id = common::BuildId(source.build_id);
    if (auto it = by_build_id_.find(build_id); it != by_build_id_.end()) return it->second;
  }

  sweep_if_full();
  common::UniqueFd fd = open_verified(source, build_id);
  auto module = std::make_shared<profile::Module>();
  module->kind = profile::MappingKind::kFile;
  module->path = std::string(source.path);
  module->pid = source.pid;
  module->device = key.device;
  module->inode = key.inode;
  if (fd) {
    struct stat st{};
    if (!know_inode && ::fstat(fd.get(), &st) == 0) {
      module->device = st.st_dev;
      module->inode = st.st_ino;
      // An MMAP2 whose build-id the kernel could not read names no file: the inode does.
      if (auto it = by_file_.find(FileKey{module->device, module->inode}); it != by_file_.end()) {
        return it->second;
      }
    }
    if (build_id.empty()) {
      // A file that is not ELF (or has no build-id) is still a module, keyed by its inode.
      auto id = elf::read_build_id(fd, module->path);
      stats_.build_ids_read++;
      if (id) build_id = std::move(*id);
    }
  }
  module->build_id = build_id;
  // The same binary seen through another inode (a container's copy): reuse that module.
  if (!build_id.empty()) {
    if (auto it = by_build_id_.find(build_id); it != by_build_id_.end()) {
      if (know_inode) by_file_.emplace(key, it->second);
      return it->second;
    }
  }
  if (fd) module->file = hold_file(std::move(fd));
  std::shared_ptr<const profile::Module> shared = std::move(module);
  if (!build_id.empty()) by_build_id_.emplace(build_id, shared);
  if (know_inode) {
    by_file_.emplace(key, shared);
  } else if (shared->inode != 0) {
    by_file_.emplace(FileKey{shared->device, shared->inode}, shared);
  }
  return shared;
}

void ModuleCache::sweep_if_full() {
  if (by_file_.size() + by_build_id_.size() >= 2 * max_modules_) sweep_unused();
}

void ModuleCache::sweep_unused() {
  // Drop modules nobody but the cache holds (no process maps them, no window recorded them).
  std::unordered_map<const profile::Module*, long> cache_refs;
  for (const auto& [k, m] : by_file_) cache_refs[m.get()]++;
  for (const auto& [k, m] : by_build_id_) cache_refs[m.get()]++;
  // Decide before erasing anything: erasing changes the use counts.
  std::unordered_map<const profile::Module*, bool> unused;
  for (const auto& [m, refs] : cache_refs) unused[m] = false;
  auto mark = [&](const auto& kv) {
    unused[kv.second.get()] = kv.second.use_count() == cache_refs[kv.second.get()];
  };
  std::ranges::for_each(by_file_, mark);
  std::ranges::for_each(by_build_id_, mark);
  std::erase_if(by_file_, [&](const auto& kv) { return unused[kv.second.get()]; });
  std::erase_if(by_build_id_, [&](const auto& kv) { return unused[kv.second.get()]; });
}

}  // namespace ember::collector
