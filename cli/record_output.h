#pragma once
// Writing what `ember record` collected. When an output cannot be written (a full disk, a device
// that refuses), the recording is not lost with it: unless another output already holds all of
// it (pprof), it is saved as pprof to $TMPDIR/ember-recording-PID.pb.gz, and the messages say
// which outputs are missing and where the recording went.

#include <string>
#include <vector>

#include "cli/io.h"
#include "profile/profile.h"

namespace ember::cli {

struct RecordingWritten {
  std::vector<std::string> written;  // the outputs written (not stdout)
  bool failed = false;               // some output could not be written
};

// Where the recording is saved when an output fails: $TMPDIR (or /tmp)/ember-recording-PID.pb.gz.
std::string fallback_recording_path();

RecordingWritten write_recording(const profile::Profile& profile,
                                 const std::vector<std::string>& outputs,
                                 const std::vector<OutputFormat>& formats,
                                 const RenderOptions& options, uint64_t samples);

}  // namespace ember::cli
