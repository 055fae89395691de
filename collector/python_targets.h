#pragma once
// Which targets run CPython, known before their events are opened. --off-cpu wakes the poller at
// every switch of those only: a Python thread's stack is read as its switch-out leaves the ring,
// exact only while the thread is still off CPU (python_stacks.h), whereas for a program without
// CPython a wake-up per switch is a context switch of ember's for nothing (tens of thousands a
// second on a ping-pong of threads).

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
