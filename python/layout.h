#pragma once
// Where CPython keeps what ember reads, per version: one table for 3.8–3.12 (checked field by
// field against each installed interpreter's own headers by tests/python/layout_test.cpp), and
// the interpreter's own _Py_DebugOffsets for 3.13.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/error.h"
#include "python/process_reader.h"

namespace ember::python {

enum class FrameModel {
  kFrameObject,       // 3.8–3.10: PyFrameObject chain (f_back), f_lasti
  kEntryFlag,         // 3.11: _PyInterpreterFrame chain, is_entry marks a C entry
  kShimFrames,        // 3.12+: _PyInterpreterFrame chain, C entries are shim frames (owner 3)
};

enum class LineTableFormat {
  kLnotab,       // 3.8–3.9 co_lnotab: (byte delta, signed line delta) pairs
  kLinetable310, // 3.10 co_linetable (PEP 626): (byte delta, signed line delta, -128 = none)
  kLocations311, // 3.11+ co_linetable: location entries with varints
};

// Byte offsets of fields; 0 where a field does not exist in the version (each user checks
// the model/version first, no field at offset 0 is ever read through an "absent" 0).
struct Layout {
  Version version;
  FrameModel frame_model = FrameModel::kFrameObject;
  LineTableFormat line_table = LineTableFormat::kLnotab;

  uint32_t runtime_interpreters_head = 0;
  uint32_t runtime_main_thread = 0;  // pthread_t of the main thread (3.8–3.12; 0 on 3.13)

  uint32_t interp_next = 0;
  uint32_t interp_threads_head = 0;

  uint32_t tstate_next = 0;
  uint32_t tstate_thread_id = 0;         // pthread_t
  uint32_t tstate_native_thread_id = 0;  // the kernel TID (3.11+); 0 = absent
  uint32_t tstate_frame = 0;             // frame (3.8–3.10), cframe (3.11–3.12), current_frame (3.13)
  bool frame_via_cframe = false;         // tstate_frame points to a _PyCFrame
  uint32_t cframe_current_frame = 0;

  uint32_t frame_previous = 0;  // f_back / previous
  uint32_t frame_code = 0;      // f_code / f_executable
  uint32_t frame_instr = 0;     // f_lasti (int) / prev_instr / instr_ptr (pointer)
  uint32_t frame_owner = 0;     // 3.11+ (char)
  uint32_t frame_is_entry = 0;  // 3.11 (bool)
  uint32_t frame_executing = 0; // 3.8–3.9 f_executing (1 while running), 3.10 f_state
  uint32_t frame_size = 0;      // bytes to read of one frame

  uint32_t code_name = 0;
  uint32_t code_qualname = 0;  // 3.11+
  uint32_t code_filename = 0;
  uint32_t code_firstlineno = 0;
  uint32_t code_linetable = 0;      // co_lnotab / co_linetable (a bytes object)
  uint32_t code_adaptive = 0;       // 3.11+: first code unit, inside the code object
  uint32_t code_size = 0;           // bytes to read of one code object (all fields above)

  uint32_t object_type = 8;         // ob_type
  uint32_t bytes_size = 16;         // ob_size
  uint32_t bytes_sval = 32;         // ob_sval
  uint32_t unicode_length = 16;
  uint32_t unicode_state = 32;
  uint32_t unicode_ascii_size = 0;    // sizeof(PyASCIIObject): compact ASCII data follows
  uint32_t unicode_compact_size = 0;  // sizeof(PyCompactUnicodeObject): other compact data

  // The 3.12+ frame owner value of shim (C stack) frames.
  static constexpr uint8_t kOwnedByCStack = 3;
};

// The table entry for 3.8–3.12; nullopt for other versions.
std::optional<Layout> builtin_layout(int minor);

// 3.13+: the _Py_DebugOffsets at the start of _PyRuntime (`bytes` holds at least
// kDebugOffsetsBytes of it). Checks the "xdebugpy" cookie, that the declared version is
// `binary_version`'s minor release, that the build is not free-threaded, and that every offset
// is plausible. Errors are kMalformed or kUnsupported, with a message saying which check failed.
inline constexpr size_t kDebugOffsetsBytes = 584;
[[nodiscard]] Result<Layout> layout_from_debug_offsets(std::span<const std::byte> bytes,
                                                       const Version& binary_version);

}  // namespace ember::python
