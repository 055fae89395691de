/* What the kernel-side Python stack reader (python_stack.bpf.c) and ember (kernel_reader.cpp)
 * exchange: plain C with fixed-width fields, compiled by clang for BPF and by g++ for ember. */
#ifndef EMBER_PYTHON_BPF_PYTHON_STACK_ABI_H
#define EMBER_PYTHON_BPF_PYTHON_STACK_ABI_H

#include <linux/types.h>

/* Frames read per sample at most (3.12+ shim frames included); a deeper chain is left to the
 * reader in user space. */
#define EMBER_PY_MAX_FRAMES 256 /* a power of two: indexes are masked with it for the verifier */
/* Bytes of one frame or one code object head read at most (every supported layout needs less). */
#define EMBER_PY_OBJECT_BYTES 256

/* Switch-outs read per CPU and second at most (the CPU samples are not limited). */
#define EMBER_PY_SWITCH_READS_PER_CPU_SECOND 5000

enum ember_py_model {
  EMBER_PY_FRAME_OBJECT = 0, /* 3.8–3.10: f_back chain of PyFrameObject, int f_lasti */
  EMBER_PY_ENTRY_FLAG = 1,   /* 3.11: _PyInterpreterFrame, is_entry */
  EMBER_PY_SHIM_FRAMES = 2,  /* 3.12+: _PyInterpreterFrame, shim frames owned by the C stack */
};

/* Per process (key: tgid): where its interpreter keeps what is read, byte offsets. */
struct ember_py_process {
  __u32 model;
  __u32 tstate_native_thread_id; /* 0: absent (3.8–3.10), the TID is in struct pthread */
  __u32 tstate_thread_id;        /* pthread_t */
  __u32 pthread_tid;             /* the TID inside struct pthread (3.8–3.10) */
  __u32 tstate_frame;
  __u32 via_cframe;              /* tstate_frame points to a _PyCFrame (3.11–3.12) */
  __u32 cframe_current_frame;
  __u32 frame_previous;
  __u32 frame_code;
  __u32 frame_instr;
  __u32 frame_flag;              /* f_executing/f_state, is_entry or owner */
  __u32 frame_size;
  __u32 object_type;
  __u32 var_size;                /* ob_size */
  __u32 code_name;
  __u32 code_qualname;           /* 0 before 3.11 */
  __u32 code_filename;
  __u32 code_linetable;
  __u32 code_firstlineno;
  __u32 code_size;
};

/* The one entry of `config`: the PID namespace ember sees processes in (st_dev and st_ino of
 * /proc/self/ns/pid), so that the program keys its maps and records by the PIDs and TIDs ember's
 * perf samples carry, also when ember runs in a container; 0 and 0 in the initial namespace,
 * whose PIDs are the kernel's own (then processes in nested namespaces are seen too). */
struct ember_py_config {
  __u64 pid_ns_dev;
  __u64 pid_ns_ino;
  /* Sampling chosen processes with per-CPU events (the program built with EMBER_FILTER_TARGETS):
   * CPU samples of processes not in `targets` are dropped in the kernel (the program returns 0),
   * before they are written. */
  __u32 filter_targets;
  /* And a process started since start_ns whose parent is a target, or whose parent started
   * since then too and has such a parent, and so on (up to EMBER_TARGET_MAX_ANCESTORS), becomes
   * one at its first sample: the children targets fork during the recording are sampled from
   * their start, as the inherited events of per-thread sampling do. Only in the initial PID
   * namespace (task tgids are then the PIDs ember sees). */
  __u32 follow_children;
  __u64 start_ns; /* CLOCK_MONOTONIC, the clock of task start times */
};

/* Processes whose CPU samples are kept when filter_targets is set (key: tgid). */
#define EMBER_TARGET_MAX 65536
#define EMBER_TARGET_MAX_ANCESTORS 16
enum ember_target_kind {
  EMBER_TARGET_CHOSEN = 1,     /* registered by ember (-p, a launched command once it exec'd) */
  EMBER_TARGET_CHILD = 2,      /* a descendant of one (found by the program, or by its fork record) */
  EMBER_TARGET_AFTER_EXEC = 3, /* the command ember forked: a target from its exec on */
};
struct ember_target {
  __u32 kind;
  __u32 pad;
  /* When the process started (its main thread's start_time, CLOCK_MONOTONIC ns), noted at its
   * first sample: a later process with the same PID is no target (the entry is dropped then, so
   * ember need not remove targets that exit). 0 until then. */
  __u64 start;
};

/* Per thread (key: TID): its thread state, checked against the TID at every read. */
struct ember_py_thread {
  __u64 tstate;
};

/* One frame as the kernel read it: the frame's fields and its code object's head. */
struct ember_py_frame {
  __u64 address;
  __u64 code;
  __u64 instr;      /* f_lasti (3.8–3.10, sign-extended int) or the instruction pointer */
  __u64 frame_type; /* ob_type of a 3.8–3.10 frame object; 0 otherwise */
  __u64 code_type;  /* the code head: ob_type, ob_size, names, line table, first line */
  __u64 code_var_size;
  __u64 name;
  __u64 qualname;
  __u64 filename;
  __u64 linetable;
  __s32 first_line;
  __u8 flag;
  __u8 pad[3];
};

enum ember_py_status {
  EMBER_PY_OK = 0,
  EMBER_PY_UNKNOWN_THREAD = 1, /* no thread state known for the TID, or it no longer matches */
  EMBER_PY_FAULT = 2,          /* memory not readable from the interrupt (not resident, unmapped) */
  EMBER_PY_TOO_DEEP = 3,       /* more than EMBER_PY_MAX_FRAMES frames */
  EMBER_PY_OVER_BUDGET = 4,    /* a switch-out past EMBER_PY_SWITCH_READS_PER_CPU_SECOND: not read */
};

/* One record of the ring buffer: read when the sample was taken, before it was written. */
struct ember_py_stack {
  __u64 time; /* CLOCK_MONOTONIC ns, the clock of ember's perf events */
  __u64 ip;   /* the sampled instruction pointer, as in the sample */
  __u32 pid;  /* in ember's PID namespace, as in the sample */
  __u32 tid;
  __u32 status;
  __u32 frames;
  __u32 cpu;  /* where the sample was taken: the ring it is in */
  __u32 pad;
  struct ember_py_frame frame[EMBER_PY_MAX_FRAMES];
};

#define EMBER_PY_STACK_HEADER_BYTES 40

#endif
