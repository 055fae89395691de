#include "symbolizer/symbolizer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "common/files.h"
#include "symbolizer/binary.h"
#include "symbolizer/demangle.h"
#include "symbolizer/kallsyms.h"
#include "common/lru_cache.h"
#include "symbolizer/perf_map.h"
#include "symbolizer/vdso.h"

namespace ember::symbolizer {

namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// The path as the target saw it, without the " (deleted)" the kernel appends in /proc/PID/maps.
std::string clean_path(std::string_view path) {
  if (path.ends_with(kDeletedSuffix)) path.remove_suffix(kDeletedSuffix.size());
  return std::string(path);
}

std::string binary_key(const common::BuildId& id) { return "b:" + id.raw(); }

struct PerfMapEntry {
  PerfMap map;
  std::string path;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
};

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

class RealSymbolizer final : public Symbolizer {
 public:
  explicit RealSymbolizer(Options options) : options_(std::move(options)) {}

  std::vector<Symbol> symbolize(const profile::Module& module,
                                std::span<const uint64_t> offsets) override {
    std::lock_guard lock(mutex_);
    std::vector<Symbol> out(offsets.size());
    switch (module.kind) {
      case profile::MappingKind::kFile:
      case profile::MappingKind::kVdso: {
        Binary* binary = module.kind == profile::MappingKind::kFile ? binary_for(module)
                                                                    : vdso_for(module);
        if (binary == nullptr) break;
        for (size_t i = 0; i < offsets.size(); ++i) {
          if (auto address = binary->to_elf_address(offsets[i])) out[i] = binary->symbolize(*address);
        }
        for (auto& problem : binary->take_problems()) {
          ++stats_.dwarf_errors;
          note_failure(std::move(problem));
        }
        enforce_bounds();
        break;
      }
      case profile::MappingKind::kKernel:
        if (const KernelSymbols* kernel = kernel_symbols()) {
          for (size_t i = 0; i < offsets.size(); ++i) {
            if (auto found = kernel->find(offsets[i])) {
              std::string name(found->name);
              out[i].frames.push_back(Frame{name, name, "", 0, 0});
            }
          }
        }
        break;
      case profile::MappingKind::kJit:
        if (const PerfMap* map = perf_map_for(module)) {
          for (size_t i = 0; i < offsets.size(); ++i) {
            if (auto name = map->find(offsets[i])) {
              std::string function =
                  options_.demangle ? demangle(*name, options_.full_names) : std::string(*name);
              out[i].frames.push_back(Frame{std::move(function), std::string(*name), "", 0, 0});
            }
          }
        }
        break;
      case profile::MappingKind::kAnonymous:
      case profile::MappingKind::kPython:  // named by the collector, see build_profile()
        break;
    }
    stats_.addresses += offsets.size();
    for (const Symbol& s : out) {
      if (s.empty()) {
        ++stats_.unresolved;
      } else {
        ++stats_.resolved;
        stats_.inline_frames += s.frames.size() - 1;
      }
    }
    return out;
  }

  Stats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  ModuleInfo module_info(const profile::Module& module) override {
    std::lock_guard lock(mutex_);
    Binary* binary = nullptr;
    if (module.kind == profile::MappingKind::kFile) binary = binary_for(module, /*count=*/false);
    if (module.kind == profile::MappingKind::kVdso) binary = vdso_for(module, /*count=*/false);
    if (binary == nullptr) return {};
    return ModuleInfo{binary->file().file_size()};
  }

 private:
  void note_failure(std::string message) {
    // Each problem once: a module is symbolized in every window, the reason does not change.
    if (!reported_.insert(message).second) return;
    spdlog::debug("symbolizer: {}", message);
    if (stats_.failures.size() < Stats::kMaxFailures) stats_.failures.push_back(std::move(message));
    if (reported_.size() > 4 * Stats::kMaxFailures) reported_.clear();  // bounded
  }

  std::string proc_path(int32_t pid, std::string_view rest) const {
    return options_.proc_root + "/" + std::to_string(pid) + std::string(rest);
  }

  // The module's file, as found through (in order) the collector's open fd, the target's mount
  // namespace, and our own; a candidate that is not the build-id the module names is skipped.
  Binary* binary_for(const profile::Module& module, bool count = true) {
    if (!module.build_id.empty()) {
      if (auto* cached = binaries_.find(binary_key(module.build_id))) {
        if (count) ++stats_.cache_hits;
        return cached->get();
      }
    }
    std::string path = clean_path(module.path);
    std::optional<elf::ElfFile> file;
    std::string first_error;
    bool via_root = false;
    auto consider = [&](Result<elf::ElfFile> candidate, bool in_root) {
      if (file) return;
      if (!candidate) {
        if (first_error.empty()) first_error = candidate.error().message();
        return;
      }
      if (!module.build_id.empty() && candidate->build_id() != module.build_id) {
        if (count) ++stats_.build_id_mismatches;
        if (first_error.empty()) {
          first_error = candidate->name() + ": build-id " + candidate->build_id().hex() +
                        " is not the mapped binary's " + module.build_id.hex();
        }
        return;
      }
      file = std::move(*candidate);
      via_root = in_root;
    };
    if (module.file && module.file->valid()) {
      int dup = ::fcntl(module.file->get(), F_DUPFD_CLOEXEC, 0);
      if (dup >= 0) {
        consider(elf::ElfFile::open(common::UniqueFd(dup), path), module.pid > 0);
      } else if (first_error.empty()) {
        first_error = Error::from_errno(path).message();
      }
    }
    if (!file && module.pid > 0 && path.starts_with('/')) {
      consider(elf::ElfFile::open_path(proc_path(module.pid, "/root" + path)), true);
    }
    if (!file && !path.empty()) consider(elf::ElfFile::open_path(path), false);
    if (!file) {
      if (count) {
        ++stats_.binaries_failed;
        note_failure(first_error.empty() ? path + ": no file to read" : first_error);
      }
      return nullptr;
    }

    std::string key;
    if (!file->build_id().empty()) {
      key = binary_key(file->build_id());
    } else {
      struct stat st{};
      if (::fstat(file->fd(), &st) != 0) st = {};
      key = "p:" + path + ":" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
            std::to_string(mtime_ns(st));
    }
    if (auto* cached = binaries_.find(key)) {
      if (count) ++stats_.cache_hits;
      return cached->get();
    }

    DebugFileSearch search;
    search.debug_directories = options_.debug_directories;
    search.debuginfod = options_.debuginfod.get();
    if (via_root) search.roots = {proc_path(module.pid, "/root"), ""};
    return open_binary(std::move(*file), path, search, key, count);
  }

  Binary* open_binary(elf::ElfFile file, const std::string& path, const DebugFileSearch& search,
                      const std::string& key, bool count) {
    Binary::Counters counters;
    auto binary = Binary::open(std::move(file), path, options_, search, counters);
    stats_.build_id_mismatches += counters.debug.rejected;
    if (!binary) {
      if (count) {
        ++stats_.binaries_failed;
        note_failure(binary.error().message());
      }
      return nullptr;
    }
    ++stats_.binaries_opened;
    if (counters.debug_file_found) ++stats_.debug_files;
    return binaries_.put(key, std::move(*binary)).get();
  }

  Binary* vdso_for(const profile::Module& module, bool count = true) {
    if (!vdso_tried_) {
      vdso_tried_ = true;
      auto image = read_own_vdso();
      if (!image) {
        vdso_error_ = image.error().message();
      } else {
        DebugFileSearch search;
        search.debug_directories = options_.debug_directories;
    search.debuginfod = options_.debuginfod.get();
        Binary::Counters counters;
        auto binary = Binary::open(std::move(*image), "[vdso]", options_, search, counters);
        if (binary) {
          vdso_ = std::move(*binary);
          if (counters.debug_file_found) ++stats_.debug_files;
        } else {
          vdso_error_ = binary.error().message();
        }
      }
    }
    if (!vdso_) {
      if (count) {
        ++stats_.binaries_failed;
        note_failure(vdso_error_);
      }
      return nullptr;
    }
    // Another kernel's vdso (a profile recorded elsewhere) cannot be named by ours.
    if (!module.build_id.empty() && module.build_id != vdso_->file().build_id()) {
      if (count) {
        ++stats_.build_id_mismatches;
        ++stats_.binaries_failed;
        note_failure("[vdso]: build-id " + module.build_id.hex() +
                     " is not this kernel's vdso " + vdso_->file().build_id().hex());
      }
      return nullptr;
    }
    return vdso_.get();
  }

  const KernelSymbols* kernel_symbols() {
    if (!kernel_) {
      kernel_ = KernelSymbols::load(options_.kallsyms_path, options_.max_kallsyms_bytes);
      if (*kernel_) stats_.kernel_symbols = (*kernel_)->size();
    }
    if (!*kernel_) {
      note_failure(kernel_->error().message());
      return nullptr;
    }
    return &**kernel_;
  }

  // The pid the target knows itself by (its name in its own pid namespace is in the file name).
  std::optional<int32_t> namespaced_pid(int32_t pid) const {
    auto status = common::read_file(proc_path(pid, "/status"), 1u << 20);
    if (!status) return std::nullopt;
    std::string_view text = *status;
    size_t at = text.find("\nNSpid:");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(at + 7);
    line = line.substr(0, line.find('\n'));
    size_t last = line.find_last_of(" \t");
    std::string_view number = last == std::string_view::npos ? line : line.substr(last + 1);
    int32_t value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (ec != std::errc() || value <= 0) return std::nullopt;
    return value;
  }

  const PerfMap* perf_map_for(const profile::Module& module) {
    if (module.pid <= 0) {
      note_failure(module.path + ": JIT code without a process id");
      return nullptr;
    }
    PerfMapEntry* cached = perf_maps_.find(module.pid);
    std::vector<std::string> candidates;
    std::string pid = std::to_string(module.pid);
    if (auto inner = namespaced_pid(module.pid); inner && *inner != module.pid) {
      candidates.push_back(proc_path(module.pid, "/root/tmp/perf-" + std::to_string(*inner) + ".map"));
    }
    candidates.push_back(proc_path(module.pid, "/root/tmp/perf-" + pid + ".map"));
    candidates.push_back("/tmp/perf-" + pid + ".map");

    std::optional<uid_t> owner;
    struct stat proc_st{};
    if (::stat(proc_path(module.pid, "").c_str(), &proc_st) == 0) owner = proc_st.st_uid;

    std::string first_error;
    for (const auto& path : candidates) {
      struct stat st{};
      if (::lstat(path.c_str(), &st) != 0) continue;
      // Unchanged since we read it: JITs append as they compile, so a change means reload.
      if (cached != nullptr && cached->path == path && cached->device == st.st_dev &&
          cached->inode == st.st_ino && cached->size == st.st_size &&
          cached->mtime_ns == mtime_ns(st)) {
        return &cached->map;
      }
      auto map = PerfMap::load(path, options_.max_perf_map_bytes, owner);
      if (!map) {
        if (first_error.empty()) first_error = map.error().message();
        continue;
      }
      ++stats_.perf_maps_loaded;
      stats_.perf_map_malformed_lines += map->malformed_lines();
      PerfMapEntry entry{std::move(*map), path, st.st_dev, st.st_ino, st.st_size, mtime_ns(st)};
      PerfMapEntry& stored = perf_maps_.put(module.pid, std::move(entry));
      while (perf_maps_.size() > std::max<size_t>(options_.max_perf_maps, 1)) perf_maps_.evict_oldest();
      return &stored.map;
    }
    // The process has exited and taken its map with it: what we read before still names its code.
    if (cached != nullptr) return &cached->map;
    note_failure(first_error.empty() ? candidates.back() + ": no perf map for JIT code" : first_error);
    return nullptr;
  }

  void release_memory() override {
    std::lock_guard lock(mutex_);
    binaries_.for_each([](const std::string&, const std::unique_ptr<Binary>& b) { b->release_pages(); });
    if (vdso_) vdso_->release_pages();
  }

  void enforce_bounds() {
    auto total_bytes = [&] {
      size_t bytes = 0;
      binaries_.for_each([&](const std::string&, const std::unique_ptr<Binary>& b) {
        bytes += b->memory_bytes();
      });
      return bytes;
    };
    // The most recently used binary stays: it is the one being symbolized.
    while (binaries_.size() > 1 &&
           (binaries_.size() > options_.max_cached_binaries || total_bytes() > options_.max_cache_bytes)) {
      binaries_.evict_oldest();
      ++stats_.cache_evictions;
    }
  }

  mutable std::mutex mutex_;
  Options options_;
  Stats stats_;
  common::LruCache<std::string, std::unique_ptr<Binary>> binaries_;
  std::optional<Result<KernelSymbols>> kernel_;
  bool vdso_tried_ = false;
  std::unique_ptr<Binary> vdso_;
  std::string vdso_error_;
  common::LruCache<int32_t, PerfMapEntry> perf_maps_;
  std::unordered_set<std::string> reported_;
};

}  // namespace

std::unique_ptr<Symbolizer> make_symbolizer(const Options& options) {
  return std::make_unique<RealSymbolizer>(options);
}

Result<std::vector<Symbol>> symbolize_file(const std::string& path,
                                           std::span<const common::ElfAddress> addresses,
                                           const Options& options,
                                           std::vector<std::string>* problems) {
  auto file = elf::ElfFile::open_path(path);
  if (!file) return std::unexpected(file.error());
  DebugFileSearch search;
  search.debug_directories = options.debug_directories;
  search.debuginfod = options.debuginfod.get();
  Binary::Counters counters;
  auto binary = Binary::open(std::move(*file), path, options, search, counters);
  if (!binary) return std::unexpected(binary.error());
  std::vector<Symbol> out;
  out.reserve(addresses.size());
  for (common::ElfAddress address : addresses) out.push_back((*binary)->symbolize(address.value()));
  if (problems != nullptr) *problems = (*binary)->take_problems();
  return out;
}

}  // namespace ember::symbolizer
