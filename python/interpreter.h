#pragma once
// Finding CPython in a process: the module (executable or libpython) that defines it, its
// version read from the binary, and the process addresses ember needs (_PyRuntime, the type
// objects used to check what it reads), with the load bias applied.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "python/process_reader.h"

namespace ember::python {

struct InterpreterInfo {
  Version version;
  std::string path;  // as mapped in the target
  uint64_t inode = 0;
  uint64_t device = 0;
  uint64_t runtime_address = 0;  // _PyRuntime
  uint64_t code_type = 0;        // PyCode_Type
  uint64_t unicode_type = 0;     // PyUnicode_Type
  uint64_t bytes_type = 0;       // PyBytes_Type
  uint64_t frame_type = 0;       // PyFrame_Type (3.8–3.10 frame objects)
  std::vector<OffsetRange> eval_ranges;
};

// Errors: kNotFound (no CPython mapped, or the process is gone), kUnsupported (a CPython
// outside 3.8–3.13, message names the version), others name the file and the problem.
[[nodiscard]] Result<InterpreterInfo> find_interpreter(int32_t pid, const std::string& proc_root);

// The version of a CPython < 3.11 binary from its .rodata: PY_VERSION ("3.10.13") is stored
// there as a string (often as the tail of the install prefix). nullopt when no candidate or
// candidates of different versions are found.
std::optional<Version> version_from_rodata(std::span<const std::byte> rodata);

}  // namespace ember::python
