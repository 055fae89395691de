#include "cli/record_output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "common/files.h"

namespace ember::cli {

std::string fallback_recording_path() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return fmt::format("{}/ember-recording-{}.pb.gz", dir, ::getpid());
}

RecordingWritten write_recording(const profile::Profile& profile,
                                 const std::vector<std::string>& outputs,
                                 const std::vector<OutputFormat>& formats,
                                 const RenderOptions& options, uint64_t samples) {
  RecordingWritten result;
  std::vector<std::string> missing;
  std::string complete;  // a pprof output that was written: it holds the whole recording
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (auto ok = write_profile(profile, outputs[i], formats[i], options); !ok) {
      fail(ok.error().message());
      missing.push_back(outputs[i] == "-" ? "stdout" : outputs[i]);
      continue;
    }
    if (outputs[i] == "-") continue;
    result.written.push_back(outputs[i]);
    if (formats[i] == OutputFormat::kPprofGzip || formats[i] == OutputFormat::kPprof) {
      complete = outputs[i];
    }
  }
  if (missing.empty()) return result;
  result.failed = true;

  std::string not_written;
  for (const auto& m : missing) not_written += (not_written.empty() ? "" : ", ") + m;
  auto recreate = [](const std::string& from) {
    return fmt::format("'ember convert {} -o FILE' writes any format from it", from);
  };
  if (!complete.empty()) {
    fail(fmt::format("not written: {}; the whole recording is in {}: {}", not_written, complete,
                     recreate(complete)));
    return result;
  }
  // The smallest format that keeps everything, in a place that is usually on another disk.
  std::string fallback = fallback_recording_path();
  auto saved = write_profile(profile, fallback, OutputFormat::kPprofGzip, options);
  if (saved) {
    fail(fmt::format("not written: {}; the recording ({} samples) was saved to {} instead: {}",
                     not_written, samples, fallback, recreate(fallback)));
  } else if (!result.written.empty()) {
    std::string kept;
    for (const auto& w : result.written) kept += (kept.empty() ? "" : ", ") + w;
    fail(fmt::format("not written: {}; saving the recording to {} failed too ({}): only {} {} it",
                     not_written, fallback, saved.error().message(), kept,
                     result.written.size() == 1 ? "holds" : "hold"));
  } else {
    fail(fmt::format("not written: {}; saving the recording to {} failed too ({}): its {} samples "
                     "are lost",
                     not_written, fallback, saved.error().message(), samples));
  }
  return result;
}

}  // namespace ember::cli
