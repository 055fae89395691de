#include "python/layout.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>

#include <fmt/format.h>

namespace ember::python {

namespace {

// Bytes to read of a frame / code object: up to the end of the furthest field used.
void compute_read_sizes(Layout& l) {
  l.frame_size = std::max({l.frame_previous + 8, l.frame_code + 8, l.frame_instr + 8,
                           l.frame_owner + 1, l.frame_is_entry + 1, l.frame_executing + 1});
  l.code_size = std::max({l.object_type + 8, l.code_name + 8, l.code_qualname + 8,
                          l.code_filename + 8, l.code_firstlineno + 4, l.code_linetable + 8});
}

Layout frame_object_layout(int minor) {
  // 3.8–3.10 share the runtime, thread state and code object layouts; f_lasti moved in 3.10
  // (f_lasti then counts code units, and the line table format changed).
  Layout l;
  l.version = {3, minor, 0};
  l.frame_model = FrameModel::kFrameObject;
  l.line_table = minor >= 10 ? LineTableFormat::kLinetable310 : LineTableFormat::kLnotab;
  l.runtime_interpreters_head = 32;
  l.runtime_main_thread = 72;
  l.interp_next = 0;
  l.interp_threads_head = 8;
  l.tstate_next = 8;
  l.tstate_thread_id = 176;
  l.tstate_frame = 24;
  l.frame_previous = 24;
  l.frame_code = 32;
  l.frame_instr = minor >= 10 ? 96 : 104;
  l.frame_executing = minor >= 10 ? 108 : 116;
  l.code_name = 112;
  l.code_filename = 104;
  l.code_firstlineno = 40;
  l.code_linetable = 120;
  l.unicode_ascii_size = 48;
  l.unicode_compact_size = 72;
  return l;
}

Layout layout_311() {
  Layout l;
  l.version = {3, 11, 0};
  l.frame_model = FrameModel::kEntryFlag;
  l.line_table = LineTableFormat::kLocations311;
  l.runtime_interpreters_head = 40;
  l.runtime_main_thread = 80;
  l.interp_next = 0;
  l.interp_threads_head = 16;
  l.tstate_next = 8;
  l.tstate_thread_id = 152;
  l.tstate_native_thread_id = 160;
  l.tstate_frame = 56;
  l.frame_via_cframe = true;
  l.cframe_current_frame = 8;
  l.frame_previous = 48;
  l.frame_code = 32;
  l.frame_instr = 56;
  l.frame_owner = 69;
  l.frame_is_entry = 68;
  l.code_name = 120;
  l.code_qualname = 128;
  l.code_filename = 112;
  l.code_firstlineno = 72;
  l.code_linetable = 136;
  l.code_adaptive = 184;
  l.unicode_ascii_size = 48;
  l.unicode_compact_size = 72;
  return l;
}

Layout layout_312() {
  Layout l;
  l.version = {3, 12, 0};
  l.frame_model = FrameModel::kShimFrames;
  l.line_table = LineTableFormat::kLocations311;
  l.runtime_interpreters_head = 40;
  l.runtime_main_thread = 64;
  l.interp_next = 0;
  l.interp_threads_head = 72;
  l.tstate_next = 8;
  l.tstate_thread_id = 136;
  l.tstate_native_thread_id = 144;
  l.tstate_frame = 56;
  l.frame_via_cframe = true;
  l.cframe_current_frame = 0;
  l.frame_previous = 8;
  l.frame_code = 0;
  l.frame_instr = 56;
  l.frame_owner = 70;
  l.code_name = 120;
  l.code_qualname = 128;
  l.code_filename = 112;
  l.code_firstlineno = 68;
  l.code_linetable = 136;
  l.code_adaptive = 192;
  // 3.12 dropped the wstr fields: the unicode headers shrank by 8 and 16 bytes.
  l.unicode_ascii_size = 40;
  l.unicode_compact_size = 56;
  return l;
}

uint64_t load_u64(std::span<const std::byte> bytes, size_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

// Field positions inside the 3.13 _Py_DebugOffsets (checked against the 3.13 headers by
// tests/python/layout_test.cpp): each group starts with its struct's size.
struct DebugOffsetsFields {
  static constexpr size_t kVersion = 8, kFreeThreaded = 16;
  static constexpr size_t kRuntimeSize = 24, kRuntimeInterpretersHead = 40;
  static constexpr size_t kInterpSize = 48, kInterpNext = 64, kInterpThreadsHead = 72;
  static constexpr size_t kThreadSize = 152, kThreadNext = 168, kThreadCurrentFrame = 184,
                          kThreadId = 192, kThreadNativeId = 200;
  static constexpr size_t kFrameSize = 224, kFramePrevious = 232, kFrameExecutable = 240,
                          kFrameInstrPtr = 248, kFrameOwner = 264;
  static constexpr size_t kCodeSize = 272, kCodeFilename = 280, kCodeName = 288,
                          kCodeQualname = 296, kCodeLinetable = 304, kCodeFirstlineno = 312,
                          kCodeAdaptive = 344;
  static constexpr size_t kObjectSize = 352, kObjectType = 360;
  static constexpr size_t kBytesSize = 512, kBytesObSize = 520, kBytesSval = 528;
  static constexpr size_t kUnicodeSize = 536, kUnicodeState = 544, kUnicodeLength = 552,
                          kUnicodeAsciiSize = 560;
  static constexpr size_t kEnd = 584;
};
static_assert(kDebugOffsetsBytes >= DebugOffsetsFields::kEnd);

}  // namespace

std::optional<Layout> builtin_layout(int minor) {
  std::optional<Layout> l;
  if (minor >= 8 && minor <= 10) l = frame_object_layout(minor);
  if (minor == 11) l = layout_311();
  if (minor == 12) l = layout_312();
  if (l) compute_read_sizes(*l);
  return l;
}

Result<Layout> layout_from_debug_offsets(std::span<const std::byte> bytes,
                                         const Version& binary_version) {
  using F = DebugOffsetsFields;
  if (bytes.size() < F::kEnd) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("_Py_DebugOffsets: {} bytes, need {}", bytes.size(), F::kEnd));
  }
  if (std::memcmp(bytes.data(), "xdebugpy", 8) != 0) {
    return make_error(ErrorCode::kMalformed, "_Py_DebugOffsets: no \"xdebugpy\" cookie at _PyRuntime");
  }
  // The declared version is PY_VERSION_HEX: 0xMMmmppRS.
  uint64_t hex = load_u64(bytes, F::kVersion);
  Version declared{static_cast<int>((hex >> 24) & 0xff), static_cast<int>((hex >> 16) & 0xff),
                   static_cast<int>((hex >> 8) & 0xff)};
  if (declared.major != binary_version.major || declared.minor != binary_version.minor) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("_Py_DebugOffsets declares version {} but the binary is {}",
                                  to_string(declared), to_string(binary_version)));
  }
  if (declared.major != 3 || declared.minor != 13) {
    // The structure is only stable within one minor release: 3.14 reordered it.
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("_Py_DebugOffsets of CPython {} is not a layout ember knows",
                                  to_string(declared)));
  }
  if (load_u64(bytes, F::kFreeThreaded) != 0) {
    return make_error(ErrorCode::kUnsupported, "free-threaded CPython builds are not supported");
  }

  Layout l;
  l.version = binary_version;
  l.frame_model = FrameModel::kShimFrames;
  l.line_table = LineTableFormat::kLocations311;
  // Every offset must lie inside the struct it belongs to; the runtime and interpreter states
  // are the big ones (277 KiB and 190 KiB in 3.13.0).
  constexpr uint64_t kMaxStructBytes = 4u << 20;
  bool ok = true;
  auto field = [&](size_t size_at, size_t offset_at, uint32_t width) -> uint32_t {
    uint64_t size = load_u64(bytes, size_at);
    uint64_t off = load_u64(bytes, offset_at);
    if (size == 0 || size > kMaxStructBytes || off + width > size) ok = false;
    return ok ? static_cast<uint32_t>(off) : 0;
  };
  l.runtime_interpreters_head = field(F::kRuntimeSize, F::kRuntimeInterpretersHead, 8);
  l.interp_next = field(F::kInterpSize, F::kInterpNext, 8);
  l.interp_threads_head = field(F::kInterpSize, F::kInterpThreadsHead, 8);
  l.tstate_next = field(F::kThreadSize, F::kThreadNext, 8);
  l.tstate_frame = field(F::kThreadSize, F::kThreadCurrentFrame, 8);
  l.tstate_thread_id = field(F::kThreadSize, F::kThreadId, 8);
  l.tstate_native_thread_id = field(F::kThreadSize, F::kThreadNativeId, 8);
  l.frame_previous = field(F::kFrameSize, F::kFramePrevious, 8);
  l.frame_code = field(F::kFrameSize, F::kFrameExecutable, 8);
  l.frame_instr = field(F::kFrameSize, F::kFrameInstrPtr, 8);
  l.frame_owner = field(F::kFrameSize, F::kFrameOwner, 1);
  l.code_filename = field(F::kCodeSize, F::kCodeFilename, 8);
  l.code_name = field(F::kCodeSize, F::kCodeName, 8);
  l.code_qualname = field(F::kCodeSize, F::kCodeQualname, 8);
  l.code_linetable = field(F::kCodeSize, F::kCodeLinetable, 8);
  l.code_firstlineno = field(F::kCodeSize, F::kCodeFirstlineno, 4);
  l.code_adaptive = field(F::kCodeSize, F::kCodeAdaptive, 2);
  l.object_type = field(F::kObjectSize, F::kObjectType, 8);
  l.bytes_size = field(F::kBytesSize, F::kBytesObSize, 8);
  l.bytes_sval = field(F::kBytesSize, F::kBytesSval, 1);
  l.unicode_state = field(F::kUnicodeSize, F::kUnicodeState, 4);
  l.unicode_length = field(F::kUnicodeSize, F::kUnicodeLength, 8);
  uint64_t ascii_size = load_u64(bytes, F::kUnicodeAsciiSize);
  if (ascii_size < 24 || ascii_size > 256) ok = false;
  if (!ok) {
    return make_error(ErrorCode::kMalformed,
                      "_Py_DebugOffsets: an offset lies outside its structure");
  }
  l.unicode_ascii_size = static_cast<uint32_t>(ascii_size);
  // PyCompactUnicodeObject adds utf8_length and utf8 to PyASCIIObject (3.12+: no wstr).
  l.unicode_compact_size = l.unicode_ascii_size + 16;
  compute_read_sizes(l);
  return l;
}

std::string to_string(const Version& v) { return fmt::format("{}.{}.{}", v.major, v.minor, v.micro); }

}  // namespace ember::python
