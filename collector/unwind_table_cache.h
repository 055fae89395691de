#pragma once
// Unwind tables by binary, shared across processes and bounded (see UnwindTableCache).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "collector/unwind_tables.h"
#include "common/lru_cache.h"
#include "profile/raw_profile.h"

namespace ember::collector {

struct UnwindTableStats {
  uint64_t loaded = 0;         // binaries whose CFI was read
  uint64_t from_debug_frame = 0;
  uint64_t without_cfi = 0;    // binaries that could not be opened or have no usable CFI
  uint64_t evicted = 0;
  uint64_t bytes = 0;          // held now
  uint64_t tables = 0;         // held now
};

// Unwind tables by binary, shared across processes, bounded by count and bytes (least recently
// used first out). Eviction happens only in trim(), between samples, so a table found during
// one sample's unwind stays valid until it ends; every eviction bumps generation() so that the
// unwinder can drop libunwind's caches, which may point into evicted tables.
class UnwindTableCache {
 public:
  struct Limits {
    size_t max_tables = 512;
    size_t max_bytes = size_t{256} << 20;
  };
  explicit UnwindTableCache(Limits limits);
  UnwindTableCache() : UnwindTableCache(Limits{}) {}
  ~UnwindTableCache();

  struct Found {
    const UnwindTable* table = nullptr;  // null: the binary has no usable CFI
    uint32_t slot = 0;
  };
  // The table of a mapped module (kFile or kVdso), loading it the first time.
  Found find(const profile::Module& module);
  // The table in a slot (for reads of the CFI address space); null when none.
  const UnwindTable* in_slot(uint32_t slot) const;
  // Evicts past the limits.
  void trim();
  uint64_t generation() const { return generation_; }
  const UnwindTableStats& stats() const { return stats_; }

  // Inserts a prepared table under `key` (tests; the vDSO).
  Found insert(const std::string& key, std::unique_ptr<UnwindTable> table);

 private:
  struct Entry {
    std::unique_ptr<UnwindTable> table;  // null: negative entry
    uint32_t slot = 0;
    size_t bytes = 0;
  };
  std::unique_ptr<UnwindTable> load_module(const profile::Module& module);
  std::unique_ptr<UnwindTable> load_vdso();

  Limits limits_;
  common::LruCache<std::string, Entry> entries_;  // by unwind_table_key()
  std::unordered_map<uint32_t, const UnwindTable*> by_slot_;
  uint32_t next_slot_ = 0;
  size_t bytes_ = 0;
  uint64_t generation_ = 0;
  UnwindTableStats stats_;
};

// The cache key of a module's binary: its build-id, else device and inode, else its path.
std::string unwind_table_key(const profile::Module& module);

}  // namespace ember::collector
