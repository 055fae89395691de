#pragma once
// The export step: a RawProfile (addresses) becomes a Profile (names), each unique
// (module, offset) symbolized once, in one batch per module.

#include <string>
#include <vector>

#include "profile/profile.h"
#include "profile/raw_profile.h"
#include "symbolizer/symbolizer.h"

namespace ember::symbolizer {

struct BuildOptions {
  std::vector<std::string> comments;  // pprof comments (the command line, the ember version)
};

// Sample types samples/count and cpu/nanoseconds (default "samples"); one mapping per module with
// samples, the main module first (raw.main_module, else the file with the most samples); location
// addresses are file offsets (absolute addresses for kernel and JIT code); labels pid, tid, comm
// and thread_comm.
profile::Profile build_profile(const profile::RawProfile& raw, Symbolizer& symbolizer,
                               const BuildOptions& options = {});

}  // namespace ember::symbolizer
