#pragma once
// The summary of one snapshot: per process (pid, comm), its samples and CPU time, and per
// function its self and total samples and CPU time. Written beside each snapshot so that a
// series over a week (GET /api/v1/series) reads 10,080 small files, not 10,080 profiles.
//
// The file has the processes first, uncompressed with a CRC (a series without functions reads
// only those), then the functions gzip'd (with gzip's CRC); it names the size of the snapshot it
// was made from, so a summary that is damaged, cut short or left over from another file is refused and
// rebuilt from the snapshot: it never gives a wrong series.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "profile/profile.h"

namespace ember::daemon {

struct SnapshotSummary {
  struct Function {
    uint32_t name = 0;  // index into strings
    int64_t self_samples = 0;   // samples whose leaf frame is the function
    int64_t self_cpu_ns = 0;
    int64_t total_samples = 0;  // samples whose stack holds it (once, however recursive)
    int64_t total_cpu_ns = 0;
  };
  struct Process {
    int32_t pid = 0;
    uint32_t comm = 0;  // index into strings
    int64_t samples = 0;
    int64_t cpu_ns = 0;
    std::vector<Function> functions;
  };
  std::vector<std::string> strings;
  std::vector<Process> processes;
  // What the profiled processes used (profile::Profile::resources), by pid: in the process
  // section, so that a resource series reads no function.
  std::vector<profile::ProcessResources> resources;
  int64_t period = 0;          // CPU time of one sample: the base the file stores CPU times from
  bool has_functions = false;  // false when decoded without them
};

// Functions named as the flamegraph and the report name them (inlined functions as their own
// frames, a Python function once whatever its line). Counts the `samples` value of samples that
// have one, and their `cpu` value. The resources are the profile's own.
SnapshotSummary summarize(const profile::Profile& profile);

// The file, naming `snapshot_bytes`, the size of its snapshot file.
[[nodiscard]] Result<std::string> encode_summary(const SnapshotSummary& summary, uint64_t snapshot_bytes);
// The size of the snapshot a summary says it was made from, read from the file's first bytes
// (kSummaryPrefixBytes are enough); nullopt when they do not start a summary of this version.
// No CRC is checked: the store only uses it to skip checking again a snapshot whose summary was
// made from exactly that file (snapshot_store.cpp).
inline constexpr size_t kSummaryPrefixBytes = 64;
std::optional<uint64_t> summary_made_from(std::string_view first_bytes);
// kMalformed when the bytes are not a whole summary of this version, or were made from a
// snapshot of another size. Without `with_functions` only the process section is read.
[[nodiscard]] Result<SnapshotSummary> decode_summary(std::string_view bytes, uint64_t snapshot_bytes,
                                                     bool with_functions = true);

}  // namespace ember::daemon
