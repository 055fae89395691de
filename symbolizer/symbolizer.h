#pragma once
// Addresses to names: ELF symbol tables, DWARF line tables and inlined calls, separate debug
// files, /proc/kallsyms and JIT perf maps. Used once per unique (module, offset) at export time
// (see build_profile.h); nothing here runs per sample.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/types.h"
#include "profile/raw_profile.h"

namespace ember::symbolizer {

class DebuginfodClient;

struct Options {
  bool demangle = true;
  // false: C++ names without parameter lists ("truth::Worker::compute_alpha"), the way flamegraphs
  // want them; true: as c++filt prints them ("truth::Worker::compute_alpha(int) const").
  bool full_names = false;
  // Inlined functions as frames of their own, where DWARF says what was inlined. Off: one frame per
  // address, the function the code was compiled into, with the line of the (inlined) call.
  bool inline_frames = true;
  bool line_numbers = true;
  // Roots of separate debug files: <dir>/.build-id/xx/rest.debug and <dir>/<binary dir>/<debuglink>.
  std::vector<std::string> debug_directories = {"/usr/lib/debug"};
  // Debug files by build-id when none is found locally (debuginfod_client.h); null: off.
  std::shared_ptr<DebuginfodClient> debuginfod;
  std::string kallsyms_path = "/proc/kallsyms";
  // Where /PID/root (the target's mount namespace) is found; tests point it at a fake tree.
  std::string proc_root = "/proc";
  // Bounds. Binaries (with their symbol tables and DWARF indexes) are evicted least recently used
  // first when either is exceeded; a single binary larger than max_cache_bytes drops its own
  // oldest decoded compilation units. Mapped file bytes are not counted: the kernel can page them out.
  size_t max_cached_binaries = 64;
  size_t max_cache_bytes = size_t{256} << 20;
  size_t max_perf_maps = 64;                       // JIT maps kept (one per process)
  size_t max_perf_map_bytes = size_t{256} << 20;   // a larger /tmp/perf-PID.map is refused
  size_t max_kallsyms_bytes = size_t{64} << 20;
};

struct Frame {
  std::string function;     // demangled (or as in the symbol table with demangle off)
  std::string system_name;  // as in the symbol table or DWARF linkage name (mangled)
  std::string file;         // source file of `line`; empty when unknown
  int64_t line = 0;         // 0 when unknown
  int64_t column = 0;
  bool operator==(const Frame&) const = default;
};

struct Symbol {
  // Innermost (inlined) function first, the function the code was compiled into last, as pprof
  // orders a location's lines. Each caller's line is the line of the inlined call in it.
  // Empty: the address could not be symbolized.
  std::vector<Frame> frames;
  bool empty() const { return frames.empty(); }
  bool operator==(const Symbol&) const = default;
};

struct Stats {
  uint64_t addresses = 0;    // addresses asked for
  uint64_t resolved = 0;     // at least one frame
  uint64_t unresolved = 0;
  uint64_t inline_frames = 0;       // frames of inlined functions returned
  uint64_t binaries_opened = 0;     // ELF files opened and indexed (cache misses)
  uint64_t binaries_failed = 0;     // modules whose file could not be opened, read or verified
  uint64_t build_id_mismatches = 0; // candidate files skipped: not the build-id the module names
  uint64_t debug_files = 0;         // separate debug files found (debuglink or .build-id)
  uint64_t dwarf_errors = 0;        // unreadable DWARF or line tables (lookups go on around them)
  uint64_t cache_hits = 0;
  uint64_t cache_evictions = 0;
  uint64_t kernel_symbols = 0;      // text symbols loaded from kallsyms
  uint64_t perf_maps_loaded = 0;
  uint64_t perf_map_malformed_lines = 0;
  // One line per module that could not be used, naming the file and why (the first kMaxFailures).
  static constexpr size_t kMaxFailures = 32;
  std::vector<std::string> failures;
};

// What the symbolizer learned about a module's file (for pprof mappings).
struct ModuleInfo {
  uint64_t file_size = 0;  // 0 when unknown
};

class Symbolizer {
 public:
  virtual ~Symbolizer() = default;
  // One Symbol per offset, in order. Offsets are as in profile::RawFrame: file offsets for kFile
  // and kVdso, absolute addresses for kKernel and kJit. Per-address trouble is counted in stats().
  virtual std::vector<Symbol> symbolize(const profile::Module& module,
                                        std::span<const uint64_t> offsets) = 0;
  virtual Stats stats() const = 0;
  // Optional: what is known about the module's file. The default knows nothing.
  virtual ModuleInfo module_info(const profile::Module&) { return {}; }
  // Optional: gives back memory that can be had again on demand (the resident pages of mapped
  // binaries and debug files; the caches stay). Long-running callers use it between batches.
  virtual void release_memory() {}
};

// The real symbolizer. Thread-safe (calls are serialized); caches are bounded by `options`.
std::unique_ptr<Symbolizer> make_symbolizer(const Options& options);

// `ember symbolize -e BINARY ADDR...`: link-time (ELF virtual) addresses, as addr2line and
// llvm-symbolizer take them. An error when the file cannot be read as ELF. Damage that only
// costs names (unreadable DWARF, a malformed line table) goes to `problems`, one line each naming
// the file.
[[nodiscard]] Result<std::vector<Symbol>> symbolize_file(const std::string& path,
                                           std::span<const common::ElfAddress> addresses,
                                           const Options& options,
                                           std::vector<std::string>* problems = nullptr);

}  // namespace ember::symbolizer
