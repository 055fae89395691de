// The program on ember's sampling events, built as two objects (python/CMakeLists.txt):
// - the Python stack reader (ember_python_stack, ember_python_switch), below;
// - the same with a filter (EMBER_FILTER_TARGETS, ember_target_stack): when ember samples chosen
//   processes with per-CPU events it drops the samples of every other process (returning 0), so
//   they are never written. One program runs per perf event, so both jobs live in it.
//
// Reads the Python stack of the sampled thread in the kernel, at the sample: attached to ember's
// CPU sampling events (PERF_EVENT_IOC_SET_BPF), it runs in the interrupt that takes the sample,
// while the thread is stopped, before the sample is written. So the stack read is the stack the
// sample caught (no race with the thread itself) and ember need not wake per sample to read it.
//
// It only copies: for a process ember registered (its offsets in `processes`) and a thread whose
// thread state it knows (`threads`, checked against the TID here at every read), it follows the
// frame chain and copies each frame's fields and its code object's head into `stacks`. Names,
// files and lines are resolved in user space (python/kernel_reader.*, StackReader), with the
// same checks and caches as a read from user space. Whatever it cannot do (an unknown thread,
// a page not resident, a chain too deep) it says in the record's status; ember then reads
// that stack from user space.
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#include "python_stack_abi.h"

// bpf_probe_read_user is offered to GPL-compatible programs only.
char LICENSE[] SEC("license") = "Dual MIT/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct ember_py_process);
} processes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ember_py_config);
} config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct ember_py_thread);
} threads SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);
} stacks SEC(".maps");

struct scratch {
  __u8 frame[EMBER_PY_OBJECT_BYTES];
  __u8 code[EMBER_PY_OBJECT_BYTES];
  struct ember_py_stack out;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch SEC(".maps");

// A field of bytes read into the scratch space; 0 past its end.
static __always_inline __u64 field64(const __u8 *bytes, __u32 offset) {
  offset &= EMBER_PY_OBJECT_BYTES - 1;
  if (offset > EMBER_PY_OBJECT_BYTES - 8) return 0;
  return *(const __u64 *)(bytes + offset);
}
static __always_inline __u32 field32(const __u8 *bytes, __u32 offset) {
  offset &= EMBER_PY_OBJECT_BYTES - 1;
  if (offset > EMBER_PY_OBJECT_BYTES - 4) return 0;
  return *(const __u32 *)(bytes + offset);
}
static __always_inline __u8 field8(const __u8 *bytes, __u32 offset) {
  offset &= EMBER_PY_OBJECT_BYTES - 1;
  return bytes[offset];
}

static __always_inline int read_user(void *dst, __u32 size, __u64 address) {
  if (size == 0 || size > EMBER_PY_OBJECT_BYTES) return -1;
  // Bounded again on the register that is passed: the compiler may pass a copy the verifier
  // cannot relate to the check above.
  asm volatile("" : "+r"(size));
  if (size > EMBER_PY_OBJECT_BYTES) size = EMBER_PY_OBJECT_BYTES;
  return bpf_probe_read_user(dst, size, (const void *)address);
}

// The current thread's PID and TID as ember sees them (its PID namespace); false when the thread
// is not in that namespace (then it is no target of ember's).
static __always_inline int current_ids(const struct ember_py_config *c, __u32 *pid, __u32 *tid) {
  if (!c || !c->pid_ns_ino) {
    const __u64 id = bpf_get_current_pid_tgid();
    *pid = id >> 32;
    *tid = (__u32)id;
    return 1;
  }
  struct bpf_pidns_info ns = {};
  if (bpf_get_ns_current_pid_tgid(c->pid_ns_dev, c->pid_ns_ino, &ns, sizeof ns)) return 0;
  *pid = ns.tgid;
  *tid = ns.pid;
  return 1;
}

static __always_inline __u32 thread_frame(const struct ember_py_process *proc, __u32 tid, __u64 *frame) {
  const struct ember_py_thread *t = bpf_map_lookup_elem(&threads, &tid);
  if (!t) return EMBER_PY_UNKNOWN_THREAD;
  const __u64 tstate = t->tstate;
  if (proc->tstate_native_thread_id) {
    __u64 native = 0;
    if (bpf_probe_read_user(&native, sizeof native, (const void *)(tstate + proc->tstate_native_thread_id)))
      return EMBER_PY_FAULT;
    if ((__u32)native != tid) return EMBER_PY_UNKNOWN_THREAD;
  } else {
    __u64 pthread = 0;
    __s32 pthread_tid = 0;
    if (bpf_probe_read_user(&pthread, sizeof pthread, (const void *)(tstate + proc->tstate_thread_id)) ||
        bpf_probe_read_user(&pthread_tid, sizeof pthread_tid, (const void *)(pthread + proc->pthread_tid)))
      return EMBER_PY_FAULT;
    if ((__u32)pthread_tid != tid) return EMBER_PY_UNKNOWN_THREAD;
  }
  __u64 f = 0;
  if (bpf_probe_read_user(&f, sizeof f, (const void *)(tstate + proc->tstate_frame))) return EMBER_PY_FAULT;
  if (proc->via_cframe && f) {
    const __u64 cframe = f;
    if (bpf_probe_read_user(&f, sizeof f, (const void *)(cframe + proc->cframe_current_frame)))
      return EMBER_PY_FAULT;
  }
  *frame = f;
  return EMBER_PY_OK;
}

// Reads of switch-outs per CPU and second at most: a Python thread that blocks 50,000 times a
// second would otherwise pay a read at each. Past it, a record without frames says so and the
// block keeps its native stack. Only threads the program knows are charged.
struct switch_budget {
  __u64 second;
  __u32 used;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct switch_budget);
} switch_budget SEC(".maps");

// Takes one read from this CPU's budget of the second; false when it is spent.
static __always_inline int within_switch_budget(void) {
  const __u32 zero = 0;
  struct switch_budget *b = bpf_map_lookup_elem(&switch_budget, &zero);
  if (!b) return 0;
  const __u64 second = bpf_ktime_get_ns() / 1000000000ull;
  if (b->second != second) {
    b->second = second;
    b->used = 0;
  }
  if (b->used >= EMBER_PY_SWITCH_READS_PER_CPU_SECOND) return 0;
  b->used++;
  return 1;
}

// The frame walk, one bpf_loop() step per frame: the verifier checks the step once, not each of
// EMBER_PY_MAX_FRAMES unrolled iterations (which took it a second at every start of ember).
struct walk {
  struct scratch *s;
  const struct ember_py_process *proc;
  __u64 frame;
  __u32 n;
  __u32 status;
};

static long walk_frame(__u32 i, void *context) {
  struct walk *w = context;
  struct scratch *s = w->s;
  const struct ember_py_process *proc = w->proc;
  if (!w->frame || i >= EMBER_PY_MAX_FRAMES) return 1;
  // What the check above says, in a form the verifier keeps (the compiler would drop the mask).
  asm volatile("" : "+r"(i));
  i &= EMBER_PY_MAX_FRAMES - 1;
  if (read_user(s->frame, proc->frame_size, w->frame)) {
    w->status = EMBER_PY_FAULT;
    return 1;
  }
  struct ember_py_frame *f = &s->out.frame[i];
  f->address = w->frame;
  f->code = field64(s->frame, proc->frame_code);
  f->flag = field8(s->frame, proc->frame_flag);
  if (proc->model == EMBER_PY_FRAME_OBJECT) {
    f->instr = (__u64)(__s64)(__s32)field32(s->frame, proc->frame_instr);
    f->frame_type = field64(s->frame, proc->object_type);
  } else {
    f->instr = field64(s->frame, proc->frame_instr);
    f->frame_type = 0;
  }
  w->frame = field64(s->frame, proc->frame_previous);
  w->n = i + 1;
  if (proc->model == EMBER_PY_SHIM_FRAMES && f->flag == 3) {
    f->code_type = 0;  // a shim frame: user space skips it, its code is not needed
    return 0;
  }
  if (i > 0) {
    const struct ember_py_frame *p = &s->out.frame[(i - 1) & (EMBER_PY_MAX_FRAMES - 1)];
    if (p->code == f->code && p->code_type) {
      // Recursion: the same code object as the caller's callee just read.
      f->code_type = p->code_type;
      f->code_var_size = p->code_var_size;
      f->name = p->name;
      f->qualname = p->qualname;
      f->filename = p->filename;
      f->linetable = p->linetable;
      f->first_line = p->first_line;
      return 0;
    }
  }
  if (read_user(s->code, proc->code_size, f->code)) {
    w->status = EMBER_PY_FAULT;
    return 1;
  }
  f->code_type = field64(s->code, proc->object_type);
  f->code_var_size = field64(s->code, proc->var_size);
  f->name = field64(s->code, proc->code_name);
  f->qualname = proc->code_qualname ? field64(s->code, proc->code_qualname) : 0;
  f->filename = field64(s->code, proc->code_filename);
  f->linetable = field64(s->code, proc->code_linetable);
  f->first_line = (__s32)field32(s->code, proc->code_firstlineno);
  return 0;
}

// `switch_out`: charged to the switch budget, once the thread is known to be one of Python's.
static __always_inline int read_stack(struct bpf_perf_event_data *ctx, const struct ember_py_process *proc,
                                      __u32 pid, __u32 tid, int switch_out) {
  const __u32 zero = 0;
  struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 1;
  struct ember_py_stack *out = &s->out;
  out->time = bpf_ktime_get_ns();
  out->ip = ctx->regs.rip;
  out->pid = pid;
  out->tid = tid;
  out->cpu = bpf_get_smp_processor_id();
  out->pad = 0;

  struct walk w = {.s = s, .proc = proc, .frame = 0, .n = 0, .status = EMBER_PY_OK};
  w.status = thread_frame(proc, tid, &w.frame);
  if (w.status == EMBER_PY_OK && switch_out && !within_switch_budget()) w.status = EMBER_PY_OVER_BUDGET;
  if (w.status == EMBER_PY_OK && w.frame) bpf_loop(EMBER_PY_MAX_FRAMES, walk_frame, &w, 0);
  __u32 status = w.status;
  __u32 n = w.n;
  if (status == EMBER_PY_OK && w.frame) status = EMBER_PY_TOO_DEEP;
  out->status = status;
  if (status != EMBER_PY_OK) n = 0;
  if (n > EMBER_PY_MAX_FRAMES) n = EMBER_PY_MAX_FRAMES;
  out->frames = n;
  __u64 size = EMBER_PY_STACK_HEADER_BYTES + (__u64)n * sizeof(struct ember_py_frame);
  // The bound checked on the very register passed (the compiler may otherwise pass a copy the
  // verifier cannot relate to the check above).
  asm volatile("" : "+r"(size));
  if (size > sizeof(struct ember_py_stack)) return 1;
  bpf_ringbuf_output(&stacks, out, size, BPF_RB_NO_WAKEUP);
  return 1;
}

#ifdef EMBER_FILTER_TARGETS
// Built as a second object (python/CMakeLists.txt): its CO-RE reads need the kernel's BTF, which
// the Python reader alone does not, and it is loaded only to sample chosen processes per CPU.
#include <bpf/bpf_core_read.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, EMBER_TARGET_MAX);
  __type(key, __u32);
  __type(value, struct ember_target);
} targets SEC(".maps");

// Only what the filter reads; its offsets come from the kernel's BTF when the program is loaded
// (CO-RE), so one object fits every kernel.
struct task_struct {
  int tgid;
  struct task_struct *real_parent;
  struct task_struct *group_leader;
  __u64 start_time; /* CLOCK_MONOTONIC ns */
  __u64 parent_exec_id;
  __u64 self_exec_id; /* one more than parent_exec_id once the process exec'd */
} __attribute__((preserve_access_index));

static __always_inline __u64 process_start(struct task_struct *task) {
  return BPF_CORE_READ(task, group_leader, start_time);
}

// Whether the sample of process `pid` is kept. A process not registered is kept when it started
// during the recording and descends from a target through processes that did too (see
// ember_py_config.follow_children); it is registered then, so the walk is done once per process.
// Processes that started before cost one read. A full map leaves new children out.
static __always_inline int is_target(const struct ember_py_config *c, __u32 pid) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  const __u64 start = process_start(task);
  struct ember_target *t = bpf_map_lookup_elem(&targets, &pid);
  if (t && t->start && t->start != start) {
    // A target that is gone, its PID reused by another process.
    bpf_map_delete_elem(&targets, &pid);
    t = 0;
  }
  if (t) {
    if (t->kind == EMBER_TARGET_AFTER_EXEC) {
      // Ember's own code until the exec: not the command's (per-thread events wait for the exec).
      if (BPF_CORE_READ(task, self_exec_id) == BPF_CORE_READ(task, parent_exec_id)) return 0;
      t->kind = EMBER_TARGET_CHOSEN;
    }
    if (!t->start) t->start = start;
    return 1;
  }
  if (!c->follow_children || start < c->start_ns) return 0;
  for (int i = 0; i < EMBER_TARGET_MAX_ANCESTORS; i++) {
    task = BPF_CORE_READ(task, real_parent);
    if (!task) return 0;
    __u32 ancestor = (__u32)BPF_CORE_READ(task, tgid);
    if (ancestor <= 1) return 0;  // init (or the idle task, its own parent): no target above
    struct ember_target *a = bpf_map_lookup_elem(&targets, &ancestor);
    if (a && (!a->start || a->start == process_start(task))) {
      const struct ember_target child = {.kind = EMBER_TARGET_CHILD, .pad = 0, .start = start};
      bpf_map_update_elem(&targets, &pid, &child, BPF_NOEXIST);
      return 1;
    }
    if (process_start(task) < c->start_ns) return 0;  // older than the recording, and no target
  }
  return 0;
}
#endif

// CPU samples (cpu-clock, cycles) of per-thread events: every sample of a registered process.
SEC("perf_event")
int ember_python_stack(struct bpf_perf_event_data *ctx) {
  const __u32 zero = 0;
  __u32 pid = 0, tid = 0;
  if (!current_ids(bpf_map_lookup_elem(&config, &zero), &pid, &tid)) return 1;
  const struct ember_py_process *proc = bpf_map_lookup_elem(&processes, &pid);
  if (!proc) return 1;  // not a registered CPython: the sample goes on as it is
  return read_stack(ctx, proc, pid, tid, 0);
}

#ifdef EMBER_FILTER_TARGETS
// CPU samples of per-CPU events: those of processes that are not targets are dropped (when
// filtering), those of registered CPython processes get their stacks read.
SEC("perf_event")
int ember_target_stack(struct bpf_perf_event_data *ctx) {
  const __u32 zero = 0;
  const struct ember_py_config *c = bpf_map_lookup_elem(&config, &zero);
  const int filter = c && c->filter_targets;
  __u32 pid = 0, tid = 0;
  if (!current_ids(c, &pid, &tid)) return !filter;
  if (filter && !is_target(c, pid)) return 0;
  const struct ember_py_process *proc = bpf_map_lookup_elem(&processes, &pid);
  if (!proc) return 1;
  return read_stack(ctx, proc, pid, tid, 0);
}
#endif

// Switch-outs (--off-cpu): the thread leaving its CPU, within the budget.
SEC("perf_event")
int ember_python_switch(struct bpf_perf_event_data *ctx) {
  const __u32 zero = 0;
  __u32 pid = 0, tid = 0;
  if (!current_ids(bpf_map_lookup_elem(&config, &zero), &pid, &tid)) return 1;
  const struct ember_py_process *proc = bpf_map_lookup_elem(&processes, &pid);
  if (!proc) return 1;
  return read_stack(ctx, proc, pid, tid, 1);
}
