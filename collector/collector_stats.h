#pragma once
// The collector's counters and gauges, in one struct, and the one table that names them.
//
// Everything that reports them is generated from kCollectorStatFields: operator+=, counters(),
// `ember record --metadata`'s "collector" object and emberd's /metrics. Adding a counter is one
// field below and one row in the table (collector_stats.cpp checks that every field has a row).

#include <cstdint>
#include <span>
#include <string_view>

namespace ember::collector {

struct CollectorStats {
  uint64_t samples = 0;          // samples recorded into windows
  uint64_t lost_samples = 0;     // samples the kernel could not write (ring full: LOST records)
  uint64_t throttle_events = 0;  // the kernel throttled sampling (THROTTLE records)
  uint64_t unthrottle_events = 0;
  uint64_t malformed_records = 0;  // records whose sizes or fields cannot be right; skipped
  uint64_t unknown_records = 0;    // record types ember does not read; skipped
  uint64_t samples_without_process = 0;  // the pid was gone before anything was known of it
  uint64_t frames_without_mapping = 0;   // a user address in no known mapping
  uint64_t dropped_samples = 0;     // past max_unique_stacks
  uint64_t filtered_samples = 0;    // rejected by process_filter
  uint64_t duplicate_samples = 0;   // -p: a thread seen through two events; one copy kept
  uint64_t stacks_at_depth_limit = 0;  // callchain as deep as sample_max_stack: maybe truncated
  uint64_t out_of_order_records = 0;   // arrived after later records had been applied
  uint64_t forced_reorder_flushes = 0; // the reorder queue's memory bound flushed early
  uint64_t records = 0;          // every record read from the rings
  uint64_t ring_wakeups = 0;     // the poller woken by a ring with data (perf's "woken up N times")
  uint64_t bytes = 0;
  uint64_t processes_evicted = 0;  // process-table bound
  uint64_t cpu_events_reopened = 0;  // -a: a CPU's events opened again after it went offline
  uint64_t processes = 0;          // gauge: in the process table now
  uint64_t modules = 0;            // gauge: distinct binaries known now
  uint64_t held_files = 0;         // gauge: binaries held open for the symbolizer

  // Unwinding (Unwinder and its UserUnwinder).
  uint64_t user_frames = 0;
  uint64_t kernel_frames = 0;
  uint64_t empty_user_stacks = 0;  // a user-mode sample without any user frame
  // kDwarf: how each unwind of a sample's user registers and stack copy ended (exactly one).
  uint64_t dwarf_unwinds = 0;
  uint64_t dwarf_to_root = 0;       // reached the outermost frame (_start, thread start)
  uint64_t dwarf_stack_end = 0;     // the stack copy ended first (a bigger stack_size helps)
  uint64_t dwarf_no_cfi = 0;        // a frame without CFI and without a usable frame pointer
  uint64_t dwarf_bad_memory = 0;    // CFI wanted memory that was neither copied nor in a binary
  uint64_t dwarf_max_depth = 0;     // the frame limit
  uint64_t dwarf_bad_frame = 0;     // CFI that could not be applied, or an implausible caller
  uint64_t dwarf_frame_pointer_steps = 0;  // frames without CFI unwound by their frame pointer
  uint64_t dwarf_shim_steps = 0;    // call shims in anonymous memory (CPython -X perf trampolines)
  uint64_t dwarf_no_registers = 0;  // user-mode samples without usable user registers
  // Frames stepped by the compiled CFI rows, and frames whose CFI is outside their compact form
  // (DWARF expressions, other registers, signal frames) handed to libunwind.
  uint64_t dwarf_compiled_frames = 0;
  uint64_t dwarf_libunwind_frames = 0;
  uint64_t unwind_tables = 0;       // gauge: per-binary CFI tables held now (shared by processes)
  uint64_t unwind_table_bytes = 0;  // gauge
  uint64_t unwind_tables_loaded = 0;
  uint64_t unwind_tables_from_debug_frame = 0;
  uint64_t binaries_without_cfi = 0;

  // Python frames (PythonStacks): processes attached, how each sample of a CPython process ended
  // (exactly one of merged ... not_read), why reads missed.
  uint64_t python_attached = 0;          // readers attached (a process counts again after exec)
  uint64_t python_unsupported = 0;       // CPython versions ember cannot read (one warning each)
  uint64_t python_attach_failed = 0;     // CPython found but its runtime could not be located
  uint64_t python_readers = 0;           // gauge: attached now
  uint64_t python_readers_evicted = 0;   // past max_readers, least recently sampled first
  uint64_t python_merged = 0;            // every eval-loop frame replaced by its Python frames
  uint64_t python_merged_below_cut = 0;  // native stack cut short; Python callers put above the cut
  uint64_t python_stale_fewer = 0;       // fewer Python calls than native eval frames (read after a return)
  uint64_t python_stale_more = 0;        // more Python calls than native eval frames (read after a call)
  uint64_t python_no_eval_frames = 0;    // a whole native stack without the eval loop: kept native
  uint64_t python_not_in_python = 0;     // the thread was not running Python: kept native
  uint64_t python_read_missed = 0;       // the read raced or failed (reasons below): kept native
  uint64_t python_not_read = 0;          // no read for the sample: busy (pending bound) or table full
  uint64_t python_miss_process_gone = 0;
  uint64_t python_miss_read_failed = 0;
  uint64_t python_miss_bad_object = 0;
  uint64_t python_miss_chain_too_long = 0;
  uint64_t python_miss_stack_changed = 0;  // the stack moved while it was read, twice in a row
  uint64_t python_stacks_read = 0;
  uint64_t python_frames_read = 0;
  uint64_t python_trampolines = 0;       // -X perf trampoline frames replaced with their eval frame
  uint64_t python_read_ns = 0;           // time spent reading and interning Python stacks
  uint64_t python_kernel_reads = 0;      // CPU samples whose Python stack the kernel read at the sample
  uint64_t python_kernel_fallbacks = 0;  // kernel reads on, but this sample's stack read from user space
  // Off-CPU blocks (--off-cpu) of threads of processes with a reader. Switch-outs are read within
  // a budget per second; each block with a read ends, at its first charge, in exactly one of
  // python_off_cpu_merged, _ran_again, _unmerged.
  uint64_t python_off_cpu_read = 0;         // switch-outs whose Python stack was read
  uint64_t python_off_cpu_over_budget = 0;  // switch-outs not read: past the reads-per-second budget
  uint64_t python_off_cpu_merged = 0;       // blocks charged with their Python frames
  uint64_t python_off_cpu_ran_again = 0;    // the thread was back on CPU before the read ended: native
  uint64_t python_off_cpu_unmerged = 0;     // read missed, not in Python, no eval-loop frame: native

  // Adds every field: the sum of the parts of one collector (recorder + unwinder), or of
  // several collectors' counters (see counters()).
  CollectorStats& operator+=(const CollectorStats& other);
  // A copy with the gauges zeroed: what still counts once this collector is gone.
  CollectorStats counters() const;
};

enum class StatKind : uint8_t { kCounter, kGauge };

struct StatField {
  std::string_view name;  // snake_case: the key in summaries
  StatKind kind;
  uint64_t CollectorStats::*member;
  std::string_view help;  // one sentence, for /metrics
  // emberd's metric name; empty: emberd_<name>, with _total for a counter. Rows that share a
  // family are one metric told apart by reason="<reason>".
  std::string_view metric = {};
  std::string_view family = {};
  std::string_view reason = {};
  double metric_scale = 1;  // /metrics is in base units: nanosecond counters are shown in seconds
};

struct StatFamily {
  std::string_view metric;
  StatKind kind;
  std::string_view help;
  std::string_view label = "reason";  // the label that tells the family's rows apart
};

// Every field of CollectorStats, once.
std::span<const StatField> collector_stat_fields();
// The labelled families rows may belong to.
std::span<const StatFamily> collector_stat_families();

}  // namespace ember::collector
