#include "collector/collector_stats.h"

#include <array>

namespace ember::collector {

namespace {

using S = CollectorStats;
constexpr StatKind kCounter = StatKind::kCounter;
constexpr StatKind kGauge = StatKind::kGauge;
constexpr std::string_view kUnwindFailures = "emberd_unwind_failures_total";
constexpr std::string_view kPythonUnreadable = "emberd_python_unreadable_interpreters_total";
constexpr std::string_view kPythonSamples = "emberd_python_samples_total";
constexpr std::string_view kPythonMisses = "emberd_python_read_misses_total";
constexpr std::string_view kPythonOffCpu = "emberd_python_off_cpu_blocks_total";

constexpr std::array kFields{
    StatField{"samples", kCounter, &S::samples, "Samples recorded."},
    StatField{"lost_samples", kCounter, &S::lost_samples, "Samples the kernel could not deliver (ring buffer full)."},
    StatField{"throttle_events", kCounter, &S::throttle_events, "Times the kernel throttled sampling."},
    StatField{"unthrottle_events", kCounter, &S::unthrottle_events, "Times the kernel resumed sampling after throttling it."},
    StatField{"malformed_records", kCounter, &S::malformed_records, "Perf records that could not be right and were skipped."},
    StatField{"unknown_records", kCounter, &S::unknown_records, "Perf records of a type ember does not read, skipped."},
    StatField{"samples_without_process", kCounter, &S::samples_without_process,
              "Samples of processes that were gone before anything was known of them."},
    StatField{"frames_without_mapping", kCounter, &S::frames_without_mapping,
              "User frames whose address is in no known mapping.", {}, kUnwindFailures, "no_mapping"},
    StatField{"dropped_samples", kCounter, &S::dropped_samples, "Samples dropped past profiling.max_unique_stacks."},
    StatField{"filtered_samples", kCounter, &S::filtered_samples, "Samples of processes that are not targets."},
    StatField{"duplicate_samples", kCounter, &S::duplicate_samples,
              "Samples of a thread seen through two events, of which one copy was kept."},
    StatField{"stacks_at_depth_limit", kCounter, &S::stacks_at_depth_limit,
              "Kernel callchains as deep as the sampling depth limit.", {}, kUnwindFailures, "depth_limit"},
    StatField{"out_of_order_records", kCounter, &S::out_of_order_records,
              "Perf records that arrived after later records had been applied."},
    StatField{"forced_reorder_flushes", kCounter, &S::forced_reorder_flushes,
              "Times the reorder queue's memory bound applied records early."},
    StatField{"records", kCounter, &S::records, "Perf records read from the ring buffers."},
    StatField{"ring_wakeups", kCounter, &S::ring_wakeups,
              "Times the collector was woken by a ring buffer with records to read: at a quarter of the "
              "ring, or at every record of a process that runs CPython."},
    StatField{"bytes", kCounter, &S::bytes, "Bytes of perf records read from the ring buffers.",
              "emberd_record_bytes_total"},
    StatField{"processes_evicted", kCounter, &S::processes_evicted, "Processes evicted at profiling.max_processes."},
    StatField{"cpu_events_reopened", kCounter, &S::cpu_events_reopened,
              "Whole-system events opened again on a CPU that went offline and came back (or came online)."},
    StatField{"processes", kGauge, &S::processes, "Processes in the collector's process table."},
    StatField{"modules", kGauge, &S::modules, "Distinct binaries known."},
    StatField{"held_files", kGauge, &S::held_files, "Binaries held open for symbolization."},
    StatField{"user_frames", kCounter, &S::user_frames, "User frames unwound."},
    StatField{"kernel_frames", kCounter, &S::kernel_frames, "Kernel frames taken from callchains."},
    StatField{"empty_user_stacks", kCounter, &S::empty_user_stacks, "User-mode samples without any user frame."},
    StatField{"dwarf_unwinds", kCounter, &S::dwarf_unwinds, "User stacks unwound with DWARF CFI."},
    StatField{"dwarf_to_root", kCounter, &S::dwarf_to_root, "DWARF unwinds that reached the outermost frame.",
              "emberd_dwarf_unwinds_complete_total"},
    StatField{"dwarf_stack_end", kCounter, &S::dwarf_stack_end, "DWARF unwinds that ran past the stack copy.", {},
              kUnwindFailures, "dwarf_stack_end"},
    StatField{"dwarf_no_cfi", kCounter, &S::dwarf_no_cfi,
              "DWARF unwinds stopped by a frame without CFI or a usable frame pointer.", {}, kUnwindFailures,
              "dwarf_no_cfi"},
    StatField{"dwarf_bad_memory", kCounter, &S::dwarf_bad_memory,
              "DWARF unwinds that needed memory neither copied nor in a binary.", {}, kUnwindFailures,
              "dwarf_bad_memory"},
    StatField{"dwarf_max_depth", kCounter, &S::dwarf_max_depth, "DWARF unwinds stopped at the frame limit.", {},
              kUnwindFailures, "dwarf_max_depth"},
    StatField{"dwarf_bad_frame", kCounter, &S::dwarf_bad_frame,
              "DWARF unwinds stopped by CFI that could not be applied or an implausible caller.", {},
              kUnwindFailures, "dwarf_bad_frame"},
    StatField{"dwarf_frame_pointer_steps", kCounter, &S::dwarf_frame_pointer_steps,
              "Frames without CFI unwound by their frame pointer."},
    StatField{"dwarf_shim_steps", kCounter, &S::dwarf_shim_steps,
              "Call shims in anonymous memory stepped over (CPython -X perf trampolines)."},
    StatField{"dwarf_no_registers", kCounter, &S::dwarf_no_registers,
              "User-mode samples without usable user registers.", {}, kUnwindFailures, "dwarf_no_registers"},
    StatField{"dwarf_compiled_frames", kCounter, &S::dwarf_compiled_frames,
              "Frames unwound by the compiled CFI tables (binary search, no libunwind)."},
    StatField{"dwarf_libunwind_frames", kCounter, &S::dwarf_libunwind_frames,
              "Frames whose CFI is outside the compiled tables' form (DWARF expressions, other registers, "
              "signal frames), unwound by libunwind."},
    StatField{"unwind_tables", kGauge, &S::unwind_tables, "Per-binary CFI tables held for DWARF unwinding."},
    StatField{"unwind_table_bytes", kGauge, &S::unwind_table_bytes,
              "Memory of the per-binary CFI tables held for DWARF unwinding."},
    StatField{"unwind_tables_loaded", kCounter, &S::unwind_tables_loaded, "Per-binary CFI tables built."},
    StatField{"unwind_tables_from_debug_frame", kCounter, &S::unwind_tables_from_debug_frame,
              "Per-binary CFI tables built from .debug_frame (no .eh_frame)."},
    StatField{"binaries_without_cfi", kCounter, &S::binaries_without_cfi,
              "Binaries that could not be opened or have no usable CFI."},
    StatField{"python_attached", kCounter, &S::python_attached,
              "CPython processes whose Python stacks were read (again after exec).", "emberd_python_interpreters_total"},
    StatField{"python_unsupported", kCounter, &S::python_unsupported, "CPython versions ember cannot read.", {},
              kPythonUnreadable, "unsupported_version"},
    StatField{"python_attach_failed", kCounter, &S::python_attach_failed,
              "CPython processes whose runtime could not be located.", {}, kPythonUnreadable, "attach_failed"},
    StatField{"python_readers", kGauge, &S::python_readers, "CPython processes with a Python stack reader now."},
    StatField{"python_readers_evicted", kCounter, &S::python_readers_evicted,
              "Python stack readers dropped at the reader bound, least recently sampled first."},
    StatField{"python_merged", kCounter, &S::python_merged, "Samples whose eval-loop frames all got Python frames.",
              {}, kPythonSamples, "merged"},
    StatField{"python_merged_below_cut", kCounter, &S::python_merged_below_cut,
              "Samples with a native stack cut short, Python callers put above the cut.", {}, kPythonSamples,
              "merged_below_cut"},
    StatField{"python_stale_fewer", kCounter, &S::python_stale_fewer,
              "Samples with fewer Python calls than eval-loop frames (read after a return).", {}, kPythonSamples,
              "stale_fewer_python"},
    StatField{"python_stale_more", kCounter, &S::python_stale_more,
              "Samples with more Python calls than eval-loop frames (read after a call).", {}, kPythonSamples,
              "stale_more_python"},
    StatField{"python_no_eval_frames", kCounter, &S::python_no_eval_frames,
              "Samples of CPython processes without the eval loop: kept native.", {}, kPythonSamples,
              "no_eval_frames"},
    StatField{"python_not_in_python", kCounter, &S::python_not_in_python,
              "Samples of threads not running Python: kept native.", {}, kPythonSamples, "not_in_python"},
    StatField{"python_read_missed", kCounter, &S::python_read_missed,
              "Samples whose Python stack read raced or failed: kept native.", {}, kPythonSamples, "read_missed"},
    StatField{"python_not_read", kCounter, &S::python_not_read,
              "Samples whose Python stack was not read (pending or table bound).", {}, kPythonSamples, "not_read"},
    StatField{"python_miss_process_gone", kCounter, &S::python_miss_process_gone,
              "Python stack reads of a process that exited or execed mid-read.", {}, kPythonMisses, "process_gone"},
    StatField{"python_miss_read_failed", kCounter, &S::python_miss_read_failed,
              "Python stack reads of memory unmapped or freed under the reader.", {}, kPythonMisses, "read_failed"},
    StatField{"python_miss_bad_object", kCounter, &S::python_miss_bad_object,
              "Python stack reads that met a torn or reused object.", {}, kPythonMisses, "bad_object"},
    StatField{"python_miss_chain_too_long", kCounter, &S::python_miss_chain_too_long,
              "Python stack reads of a frame chain too long or looping.", {}, kPythonMisses, "chain_too_long"},
    StatField{"python_miss_stack_changed", kCounter, &S::python_miss_stack_changed,
              "Python stack reads during which the stack moved twice in a row.", {}, kPythonMisses, "stack_changed"},
    StatField{"python_stacks_read", kCounter, &S::python_stacks_read, "Python stacks read."},
    StatField{"python_frames_read", kCounter, &S::python_frames_read, "Python frames read."},
    StatField{"python_trampolines", kCounter, &S::python_trampolines,
              "-X perf trampoline frames replaced with their eval-loop frame."},
    StatField{"python_read_ns", kCounter, &S::python_read_ns, "Seconds spent reading and interning Python stacks.",
              "emberd_python_read_seconds_total", {}, {}, 1e-9},
    StatField{"python_kernel_reads", kCounter, &S::python_kernel_reads,
              "Samples and switch-outs whose Python stack was read in the kernel, as they were taken (eBPF)."},
    StatField{"python_kernel_fallbacks", kCounter, &S::python_kernel_fallbacks,
              "Samples of CPython threads read from user space although kernel reads are on: a thread not "
              "seen before, memory not resident, a chain deeper than 128 frames, a full ring."},
    StatField{"python_off_cpu_read", kCounter, &S::python_off_cpu_read,
              "Switch-outs of Python threads whose Python stack was read."},
    StatField{"python_off_cpu_over_budget", kCounter, &S::python_off_cpu_over_budget,
              "Switch-outs of Python threads not read: past the reads-per-second budget."},
    StatField{"python_off_cpu_merged", kCounter, &S::python_off_cpu_merged,
              "Off-CPU blocks charged with their Python frames.", {}, kPythonOffCpu, "merged"},
    StatField{"python_off_cpu_ran_again", kCounter, &S::python_off_cpu_ran_again,
              "Off-CPU blocks whose thread ran again before its read ended: native.", {}, kPythonOffCpu,
              "ran_again"},
    StatField{"python_off_cpu_unmerged", kCounter, &S::python_off_cpu_unmerged,
              "Off-CPU blocks whose read missed or found no Python: native.", {}, kPythonOffCpu, "unmerged"},
};

constexpr std::array kFamilies{
    StatFamily{kUnwindFailures, kCounter,
               "Stacks that could not be unwound completely, by reason (dwarf_*: DWARF unwinding; "
               "no_mapping counts frames)."},
    StatFamily{kPythonUnreadable, kCounter,
               "CPython processes whose stacks stay native: a version ember cannot read, or no runtime found."},
    StatFamily{kPythonSamples, kCounter,
               "Samples of CPython processes by how their Python stack was merged with the native one (stale_*: "
               "read after the stack changed; eval-loop frames without a Python partner stay native).",
               "outcome"},
    StatFamily{kPythonMisses, kCounter,
               "Python stack reads that raced with the target or met damage, by reason (the sample keeps its "
               "native stack)."},
    StatFamily{kPythonOffCpu, kCounter,
               "Off-CPU blocks of Python threads with a read, by outcome (ran_again: the thread was back on a "
               "CPU before its Python stack was read; the block keeps its native stack).",
               "outcome"},
};

// Every field has exactly one row: the struct holds only uint64_t fields, as many as rows,
// and no member appears twice.
constexpr bool rows_are_distinct() {
  for (size_t i = 0; i < kFields.size(); ++i) {
    for (size_t j = i + 1; j < kFields.size(); ++j) {
      if (kFields[i].member == kFields[j].member || kFields[i].name == kFields[j].name) return false;
    }
  }
  return true;
}
static_assert(sizeof(CollectorStats) == kFields.size() * sizeof(uint64_t), "a CollectorStats field has no row");
static_assert(rows_are_distinct(), "a CollectorStats row is listed twice");

}  // namespace

CollectorStats& CollectorStats::operator+=(const CollectorStats& other) {
  for (const StatField& f : kFields) this->*f.member += other.*f.member;
  return *this;
}

CollectorStats CollectorStats::counters() const {
  CollectorStats out = *this;
  for (const StatField& f : kFields) {
    if (f.kind == StatKind::kGauge) out.*f.member = 0;
  }
  return out;
}

std::span<const StatField> collector_stat_fields() { return kFields; }
std::span<const StatFamily> collector_stat_families() { return kFamilies; }

}  // namespace ember::collector
