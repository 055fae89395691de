#include "python/process_reader.h"

#include <fmt/format.h>

#include "python/interpreter.h"
#include "python/layout.h"
#include "python/remote_memory.h"
#include "python/stack_reader.h"

namespace ember::python {

ReaderStats& ReaderStats::operator+=(const ReaderStats& o) {
  stacks_read += o.stacks_read;
  frames_read += o.frames_read;
  no_python_thread += o.no_python_thread;
  process_gone += o.process_gone;
  read_failed += o.read_failed;
  bad_object += o.bad_object;
  chain_too_long += o.chain_too_long;
  stack_changed += o.stack_changed;
  line_unknown += o.line_unknown;
  code_cache_hits += o.code_cache_hits;
  code_cache_misses += o.code_cache_misses;
  code_cache_evictions += o.code_cache_evictions;
  string_cache_hits += o.string_cache_hits;
  string_cache_misses += o.string_cache_misses;
  string_cache_evictions += o.string_cache_evictions;
  return *this;
}

Result<std::unique_ptr<ProcessReader>> ProcessReader::attach(int32_t pid) {
  return attach(pid, "/proc");
}

Result<std::unique_ptr<ProcessReader>> ProcessReader::attach(int32_t pid,
                                                             const std::string& proc_root) {
  auto info = find_interpreter(pid, proc_root);
  if (!info) return std::unexpected(info.error());
  std::optional<Layout> layout = builtin_layout(info->version.minor);
  if (!layout) {
    // 3.13+: the interpreter describes itself at the start of _PyRuntime.
    std::vector<std::byte> bytes(kDebugOffsetsBytes);
    ReadResult r = RemoteMemory(pid).read(info->runtime_address, bytes);
    if (r != ReadResult::kOk) {
      return make_error(r == ReadResult::kGone ? ErrorCode::kNotFound : ErrorCode::kIo,
                        fmt::format("pid {}: cannot read _PyRuntime", pid));
    }
    auto parsed = layout_from_debug_offsets(bytes, info->version);
    if (!parsed) return std::unexpected(parsed.error().with_context(fmt::format("pid {}", pid)));
    layout = *parsed;
  }
  layout->version = info->version;
  auto reader = std::make_unique<StackReader>(pid, std::move(*info), *layout);
  if (auto ok = reader->calibrate_threads(); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<ProcessReader>(std::move(reader));
}

}  // namespace ember::python
