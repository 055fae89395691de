#include "collector/unwind_table_cache.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/unique_fd.h"
#include "elf/elf_file.h"

namespace ember::collector {

// ---------------------------------------------------------------------------------------------
// UnwindTableCache

std::string unwind_table_key(const profile::Module& module) {
  if (module.kind == profile::MappingKind::kVdso) return "vdso";
  if (!module.build_id.empty()) return "b" + module.build_id.raw();
  if (module.inode != 0) return fmt::format("i{}:{}", module.device, module.inode);
  return "p" + module.path;
}

UnwindTableCache::UnwindTableCache(Limits limits) : limits_(limits) {
  limits_.max_tables = std::clamp<size_t>(limits_.max_tables, 1, kCfiMaxSlots / 2);
}
UnwindTableCache::~UnwindTableCache() = default;

const UnwindTable* UnwindTableCache::in_slot(uint32_t slot) const {
  auto it = by_slot_.find(slot);
  return it == by_slot_.end() ? nullptr : it->second;
}

UnwindTableCache::Found UnwindTableCache::insert(const std::string& key, std::unique_ptr<UnwindTable> table) {
  if (const Entry* known = entries_.find(key)) return Found{known->table.get(), known->slot};
  Entry e;
  e.bytes = key.size() + sizeof(Entry) + (table ? table->memory_bytes() : 0);
  if (table) {
    // Slots freed by eviction are reused only after generation() changed, i.e. after the
    // unwinder flushed every cache that could still point into them.
    while (by_slot_.count(next_slot_) != 0) next_slot_ = (next_slot_ + 1) % kCfiMaxSlots;
    e.slot = next_slot_;
    next_slot_ = (next_slot_ + 1) % kCfiMaxSlots;
    by_slot_.emplace(e.slot, table.get());
    stats_.loaded++;
    if (table->source() == UnwindTable::Source::kDebugFrame) stats_.from_debug_frame++;
  } else {
    stats_.without_cfi++;
  }
  e.table = std::move(table);
  bytes_ += e.bytes;
  const Entry& added = entries_.put(key, std::move(e));
  stats_.tables = entries_.size();
  stats_.bytes = bytes_;
  return Found{added.table.get(), added.slot};
}

UnwindTableCache::Found UnwindTableCache::find(const profile::Module& module) {
  std::string key = unwind_table_key(module);
  if (const Entry* known = entries_.find(key)) return Found{known->table.get(), known->slot};
  std::unique_ptr<UnwindTable> table =
      module.kind == profile::MappingKind::kVdso ? load_vdso() : load_module(module);
  if (table && table->memory_bytes() > limits_.max_bytes / 2) {
    spdlog::debug("{}: unwind table of {} bytes is over the cache's bound", module.path, table->memory_bytes());
    table.reset();
  }
  return insert(key, std::move(table));
}

void UnwindTableCache::trim() {
  while (!entries_.empty() && (entries_.size() > limits_.max_tables || bytes_ > limits_.max_bytes)) {
    const Entry& e = entries_.oldest()->second;
    if (e.table) by_slot_.erase(e.slot);
    bytes_ -= e.bytes;
    entries_.evict_oldest();
    stats_.evicted++;
    generation_++;
  }
  stats_.tables = entries_.size();
  stats_.bytes = bytes_;
}

std::unique_ptr<UnwindTable> UnwindTableCache::load_module(const profile::Module& module) {
  common::UniqueFd fd;
  if (module.file && module.file->valid()) {
    fd.reset(::fcntl(module.file->get(), F_DUPFD_CLOEXEC, 0));
  }
  if (!fd.valid() && module.pid > 0 && !module.path.empty() && module.path[0] == '/') {
    // The module cache gave up its fd (its bound): the file as the target sees it, checked below.
    fd.reset(::open(fmt::format("/proc/{}/root{}", module.pid, module.path).c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!fd.valid()) return nullptr;
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  auto file = elf::ElfFile::open(std::move(fd), module.path);
  if (!file) {
    spdlog::debug("unwind table: {}", file.error().message());
    return nullptr;
  }
  // A path reopened must still be the binary that was mapped.
  if (!module.build_id.empty() && file->build_id() != module.build_id) return nullptr;
  if (module.build_id.empty() && module.inode != 0 && static_cast<uint64_t>(st.st_ino) != module.inode) return nullptr;
  auto table = UnwindTable::load(*file);
  if (!table) {
    spdlog::debug("unwind table: {}", table.error().message());
    return nullptr;
  }
  return std::move(*table);
}

std::unique_ptr<UnwindTable> UnwindTableCache::load_vdso() {
  // Every 64-bit process of this kernel maps the same vDSO image: ember reads its own, through
  // a memfd so that the ordinary ELF reader (and its checks) apply.
  const auto base = getauxval(AT_SYSINFO_EHDR);
  if (base == 0) return nullptr;
  const auto* ehdr = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 || ehdr->e_ident[EI_CLASS] != ELFCLASS64) return nullptr;
  // The image's extent: the section headers come last.
  uint64_t size = uint64_t{ehdr->e_shoff} + uint64_t{ehdr->e_shnum} * ehdr->e_shentsize;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (size == 0 || size > 64 * page) return nullptr;
  common::UniqueFd fd(::memfd_create("ember-vdso", MFD_CLOEXEC));
  if (!fd.valid()) return nullptr;
  if (::write(fd.get(), reinterpret_cast<const void*>(base), size) != static_cast<ssize_t>(size)) return nullptr;
  auto file = elf::ElfFile::open(std::move(fd), "[vdso]");
  if (!file) return nullptr;
  auto table = UnwindTable::load(*file);
  return table ? std::move(*table) : nullptr;
}

}  // namespace ember::collector
