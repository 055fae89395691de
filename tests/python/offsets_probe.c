/* Prints offsetof() of every field ember's CPython layout table (python/layout.cpp) holds, as
   "name value" lines, compiled against one installed CPython's own headers. The layout test
   builds it for each installed 3.8-3.13 and requires ember's layout to match: the table for
   3.8-3.12; for 3.13 what ember makes of the interpreter's own _Py_DebugOffsets, which this
   probe prints as "debug_offsets HEX" (it is then linked with libpython3.13). */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#else
#include "internal/pycore_pystate.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#endif

#define P(name, value) printf("%s %zu\n", name, (size_t)(value))

int main(void) {
  P("version_hex", PY_VERSION_HEX);
  P("runtime.interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX < 0x030D0000
  P("runtime.main_thread", offsetof(_PyRuntimeState, main_thread));
#endif
  P("interp.next", offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030B0000
  P("interp.threads_head", offsetof(PyInterpreterState, threads.head));
#else
  P("interp.threads_head", offsetof(PyInterpreterState, tstate_head));
#endif
  P("tstate.next", offsetof(PyThreadState, next));
  P("tstate.thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030D0000
  P("tstate.native_thread_id", offsetof(PyThreadState, native_thread_id));
  P("tstate.frame", offsetof(PyThreadState, current_frame));
  P("iframe.previous", offsetof(_PyInterpreterFrame, previous));
  P("iframe.code", offsetof(_PyInterpreterFrame, f_executable));
  P("iframe.instr", offsetof(_PyInterpreterFrame, instr_ptr));
  P("iframe.owner", offsetof(_PyInterpreterFrame, owner));
  P("code.qualname", offsetof(PyCodeObject, co_qualname));
  P("code.code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
#elif PY_VERSION_HEX >= 0x030B0000
  P("tstate.native_thread_id", offsetof(PyThreadState, native_thread_id));
  P("tstate.frame", offsetof(PyThreadState, cframe));
  P("cframe.current_frame", offsetof(_PyCFrame, current_frame));
  P("iframe.previous", offsetof(_PyInterpreterFrame, previous));
  P("iframe.code", offsetof(_PyInterpreterFrame, f_code));
  P("iframe.instr", offsetof(_PyInterpreterFrame, prev_instr));
  P("iframe.owner", offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX < 0x030C0000
  P("iframe.is_entry", offsetof(_PyInterpreterFrame, is_entry));
#endif
  P("code.qualname", offsetof(PyCodeObject, co_qualname));
  P("code.code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
#else
  P("tstate.frame", offsetof(PyThreadState, frame));
  P("frame.back", offsetof(PyFrameObject, f_back));
  P("frame.code", offsetof(PyFrameObject, f_code));
  P("frame.lasti", offsetof(PyFrameObject, f_lasti));
#if PY_VERSION_HEX >= 0x030A0000
  P("frame.executing", offsetof(PyFrameObject, f_state));
#else
  P("frame.executing", offsetof(PyFrameObject, f_executing));
#endif
#endif
  P("code.name", offsetof(PyCodeObject, co_name));
  P("code.filename", offsetof(PyCodeObject, co_filename));
  P("code.firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX >= 0x030A0000
  P("code.linetable", offsetof(PyCodeObject, co_linetable));
#else
  P("code.linetable", offsetof(PyCodeObject, co_lnotab));
#endif
  P("bytes.size", offsetof(PyVarObject, ob_size));
  P("bytes.sval", offsetof(PyBytesObject, ob_sval));
  P("unicode.length", offsetof(PyASCIIObject, length));
  P("unicode.state", offsetof(PyASCIIObject, state));
  P("unicode.ascii_size", sizeof(PyASCIIObject));
  P("unicode.compact_size", sizeof(PyCompactUnicodeObject));
#if PY_VERSION_HEX >= 0x030D0000
  P("debug_offsets.size", sizeof(_Py_DebugOffsets));
  printf("debug_offsets ");
  const unsigned char* bytes = (const unsigned char*)&_PyRuntime.debug_offsets;
  for (size_t i = 0; i < sizeof(_Py_DebugOffsets); ++i) printf("%02x", bytes[i]);
  printf("\n");
#endif
  return 0;
}
