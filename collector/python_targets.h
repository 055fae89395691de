#pragma once
// Which targets run CPython, known before their events are opened. Their events wake the poller
// at every record (CPU sample or --off-cpu switch-out), those of other targets at a quarter of
// the ring: a Python thread's stack is read as its record leaves the ring, exact only while the
// thread still runs (or is still off CPU in) what the record caught (python_stacks.h), whereas
// for a program without CPython a wake-up per record is a context switch of ember's for nothing
// (most of ember's CPU per DWARF sample; tens of thousands a second on a ping-pong of threads).

#include <cstdint>
#include <string>
#include <string_view>

#include "collector/procfs.h"

namespace ember::collector {

// A mapped file named like a CPython: a python* executable or a libpython*.
bool may_be_python(std::string_view path);

// Exec'ing `executable` (a resolved path) starts CPython: it is a python* executable (symlinks
// followed), or a script whose #! line names one, directly or through env.
bool launches_python(const std::string& executable);

// Process `pid` maps a CPython now (its executable or a libpython). False when it is gone.
bool runs_python(const ProcFs& procfs, int32_t pid);

}  // namespace ember::collector
