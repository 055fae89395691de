// ember_unwind_bench cost: CPU per sample for unwinding, ember's compiled CFI rows next to
// libunwind's path and to perf, on the same workloads in one run (see README.md).

#include <fmt/format.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/unwind/unwind_bench.h"
#include "collector/dwarf_unwinder.h"
#include "collector/module_cache.h"
#include "collector/process_table.h"
#include "collector/sample_capture.h"

namespace unwind_bench {

namespace {

using namespace std::chrono_literals;
using ember::collector::CollectorStats;
using ember::collector::DwarfEngine;

struct Workload {
  std::string name;
  std::vector<std::string> command;
  std::chrono::milliseconds settle;  // past the dynamic loader (and imports): the maps are final
  bool with_perf = true;             // perf and live recordings too, not only the replays
};

struct ReplayFigures {
  size_t samples = 0;
  double frames_per_sample = 0;
  double to_root_percent = 0;
  Summary wall_us;
  double cpu_us_per_sample = 0;
  double allocations_per_sample = 0;
  CollectorStats stats;  // this pass's counters
};

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Unwinds every captured sample of `pid` once, each timed.
ReplayFigures replay(ember::collector::DwarfUnwinder& unwinder, const ember::collector::CapturedSamples& captured,
                     const ember::collector::Process* process, int32_t pid) {
  using namespace ember::collector;
  ReplayFigures f;
  CollectorStats before;
  unwinder.add_stats(before);
  std::vector<double> times;
  times.reserve(captured.records.size());
  std::vector<UnwoundFrame> frames;
  uint64_t frame_count = 0;
  const double cpu0 = thread_cpu_seconds();
  const uint64_t allocations0 = allocations();
  for (const auto& bytes : captured.records) {
    auto record = decode_record(bytes, captured.format);
    if (!record) continue;
    const auto* s = std::get_if<SampleRecord>(&record->body);
    if (s == nullptr || s->sid.pid != pid) continue;
    const SampleContext ctx = user_sample_context(*s, captured.format, process);
    frames.clear();
    const auto t0 = std::chrono::steady_clock::now();
    unwinder.unwind_user(ctx, frames);
    const auto t1 = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    frame_count += frames.size();
  }
  const double cpu = thread_cpu_seconds() - cpu0;
  const uint64_t made = allocations() - allocations0;
  CollectorStats after;
  unwinder.add_stats(after);
  f.samples = times.size();
  f.wall_us = summarize(std::move(times));
  const double n = static_cast<double>(f.samples);
  f.cpu_us_per_sample = f.samples == 0 ? 0 : cpu * 1e6 / n;
  f.allocations_per_sample = f.samples == 0 ? 0 : static_cast<double>(made) / n;
  f.frames_per_sample = f.samples == 0 ? 0 : static_cast<double>(frame_count) / n;
  for (const auto& field : collector_stat_fields()) f.stats.*field.member = after.*field.member - before.*field.member;
  f.to_root_percent = f.stats.dwarf_unwinds == 0
                          ? 0
                          : 100.0 * static_cast<double>(f.stats.dwarf_to_root) / static_cast<double>(f.stats.dwarf_unwinds);
  return f;
}

struct PerfFigures {
  size_t samples = 0;
  double script_unwind_us = 0, script_with_us = 0, script_without_us = 0;
  double report_unwind_us = 0, report_with_us = 0, report_without_us = 0;
  int aborts = 0;
};

// perf unwinds when it reports: `perf script`/`perf report` with call graphs minus without.
PerfFigures perf_cost(const Args& a, const Workload& w) {
  PerfFigures f;
  const std::string data = a.input_dir + "/ember-bench-perf.data";
  for (int attempt = 0; attempt < kPerfAttempts && f.samples == 0; ++attempt) {
    perf_record(w.command, a.stack_size, a.frequency, a.seconds, data);
    auto [with_cg, e1] = run_capture({"perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"});
    auto [without_cg, e2] = run_capture({"perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso", "-G"});
    auto [report_cg, e3] = run_capture({"perf", "report", "-i", data, "--stdio", "-g", "caller", "--no-children"});
    auto [report_none, e4] = run_capture({"perf", "report", "-i", data, "--stdio", "-g", "none", "--no-children"});
    ::unlink(data.c_str());
    if (!perf_exited_normally({e1, e2, e3, e4})) {
      f.aborts++;
      continue;
    }
    f.samples = parse_perf_script(with_cg).size();
    if (f.samples == 0) continue;
    const double n = static_cast<double>(f.samples);
    f.script_with_us = e1.cpu_seconds * 1e6 / n;
    f.script_without_us = e2.cpu_seconds * 1e6 / n;
    f.report_with_us = e3.cpu_seconds * 1e6 / n;
    f.report_without_us = e4.cpu_seconds * 1e6 / n;
    f.script_unwind_us = f.script_with_us - f.script_without_us;
    f.report_unwind_us = f.report_with_us - f.report_without_us;
  }
  return f;
}

struct LiveFigures {
  double cpu_us_per_sample = 0;         // the whole run: start, tables, the end
  double steady_cpu_us_per_sample = 0;  // from a few seconds in
  double steady_allocations_per_sample = 0;
  CollectorStats stats;
};

LiveFigures live(const Args& a, const Workload& w, DwarfEngine engine, bool python) {
  ember::collector::RecordOptions o;
  o.frequency_hz = a.frequency;
  o.stack_size = a.stack_size;
  o.dwarf_engine = engine;
  // Python frames (the default) wake the poller at every sample of a process that runs CPython;
  // other processes, and every process with them off, at a quarter of the ring.
  o.python.enabled = python;
  EmberRun run = ember_record(shell_quiet(w.command), o, a.seconds);
  LiveFigures f;
  f.stats = run.stats;
  const double n = static_cast<double>(run.stats.samples);
  if (n > 0) f.cpu_us_per_sample = run.cpu_seconds * 1e6 / n;
  const double steady = static_cast<double>(run.steady_samples);
  if (steady > 0) {
    f.steady_cpu_us_per_sample = run.steady_cpu_seconds * 1e6 / steady;
    f.steady_allocations_per_sample = static_cast<double>(run.steady_allocations) / steady;
  }
  return f;
}

int cost_of(const Args& a, const Workload& w) {
  using namespace ember::collector;
  fmt::print("\n== {} ({} Hz, stack copy {} B, {} s per run, load {})\n", w.name, a.frequency, a.stack_size,
             a.seconds, load_average());
  auto make = [&](DwarfEngine engine) {
    DwarfUnwinderOptions uo;
    uo.stack_bytes = a.stack_size;
    uo.engine = engine;
    auto u = DwarfUnwinder::create(uo);
    if (!u) fmt::print(stderr, "{}\n", u.error().message());
    return u ? std::move(*u) : nullptr;
  };
  auto compiled = make(DwarfEngine::kCompiled);
  auto reference = make(DwarfEngine::kLibunwind);
  if (!compiled || !reference) return 1;

  // ember: capture once, then replay through both engines.
  pid_t pid = spawn(w.command);
  std::this_thread::sleep_for(w.settle);
  ModuleCache modules(ProcFs(), 256);
  ProcessTable table(ProcFs(), modules, 16);
  const Process* process = table.load(pid);
  auto captured = capture_samples(pid, a.frequency, compiled->needs(), a.seconds);
  ::kill(pid, SIGKILL);
  wait_child(pid);
  if (!captured) {
    fmt::print(stderr, "{}\n", captured.error().message());
    return 1;
  }
  if (process == nullptr || captured->records.empty()) {
    fmt::print(stderr, "{}: no samples captured\n", w.name);
    return 1;
  }
  ReplayFigures c_cold = replay(*compiled, *captured, process, pid);
  ReplayFigures c_warm, l_warm;
  for (int pass = 1; pass < a.passes; ++pass) c_warm = replay(*compiled, *captured, process, pid);
  ReplayFigures l_cold = replay(*reference, *captured, process, pid);
  for (int pass = 1; pass < a.passes; ++pass) l_warm = replay(*reference, *captured, process, pid);

  fmt::print("CPU per sample for unwinding the user stack (µs), the same {} samples each way\n", c_cold.samples);
  fmt::print("  {:<46} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "", "samples", "frames", "median", "p90", "p99",
             "cpu/smp", "new/smp");
  auto row = [](const char* name, const ReplayFigures& f) {
    fmt::print("  {:<46} {:>8} {:>8.1f} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f}\n", name, f.samples,
               f.frames_per_sample, f.wall_us.median, f.wall_us.p90, f.wall_us.p99, f.cpu_us_per_sample,
               f.allocations_per_sample);
  };
  row("ember, compiled tables, first pass", c_cold);
  row("ember, compiled tables, second pass", c_warm);
  row("ember, libunwind, first pass", l_cold);
  row("ember, libunwind, second pass", l_warm);
  const CollectorStats& cs = c_cold.stats;
  const uint64_t stepped = cs.dwarf_compiled_frames + cs.dwarf_libunwind_frames;
  fmt::print("  frames handed to libunwind by the compiled engine: {} of {} ({:.3f}%)\n", cs.dwarf_libunwind_frames,
             stepped, stepped == 0 ? 0.0 : 100.0 * static_cast<double>(cs.dwarf_libunwind_frames) / static_cast<double>(stepped));
  fmt::print("  unwinds reaching the root: compiled {:.2f}%, libunwind {:.2f}%  (stack-copy end {}/{}, no CFI {}/{}, "
             "bad memory {}/{}, bad frame {}/{})\n",
             c_cold.to_root_percent, l_cold.to_root_percent, cs.dwarf_stack_end, l_cold.stats.dwarf_stack_end,
             cs.dwarf_no_cfi, l_cold.stats.dwarf_no_cfi, cs.dwarf_bad_memory, l_cold.stats.dwarf_bad_memory,
             cs.dwarf_bad_frame, l_cold.stats.dwarf_bad_frame);
  fmt::print("  ratio libunwind / compiled (median, second pass): {:.1f}x\n",
             c_warm.wall_us.median > 0 ? l_warm.wall_us.median / c_warm.wall_us.median : 0.0);
  if (a.ember_only || !w.with_perf) return 0;

  // ember as it records: everything per sample (ring, decode, reorder, unwind, aggregate).
  const LiveFigures lc = live(a, w, DwarfEngine::kCompiled, true);
  const LiveFigures ll = live(a, w, DwarfEngine::kLibunwind, true);
  const LiveFigures ln = live(a, w, DwarfEngine::kCompiled, false);
  fmt::print("  ember recording, all of ember's CPU per sample (ring, decode, reorder, unwind, aggregate), "
             "steady (from 2 s in) and whole run:\n");
  auto live_row = [](const char* name, const LiveFigures& f) {
    fmt::print("    {:<10} {:>7.2f} µs steady ({:.3f} C++ allocations/sample), {:>7.2f} µs whole run ({} samples, {} lost, "
               "{:.3f} wake-ups/sample)\n",
               name, f.steady_cpu_us_per_sample, f.steady_allocations_per_sample, f.cpu_us_per_sample, f.stats.samples,
               f.stats.lost_samples,
               f.stats.samples == 0 ? 0.0 : static_cast<double>(f.stats.ring_wakeups) / static_cast<double>(f.stats.samples));
  };
  live_row("compiled", lc);
  live_row("libunwind", ll);
  fmt::print("    without Python frames (--no-python; with them, only a process that runs CPython wakes the poller per sample):\n");
  live_row("compiled", ln);

  PerfFigures p = perf_cost(a, w);
  if (p.aborts > 0) fmt::print("  (perf aborted on {} recording(s), see README; figures from a clean one)\n", p.aborts);
  if (p.samples == 0) {
    fmt::print("  perf: no samples (is perf installed and permitted?)\n");
    return 0;
  }
  fmt::print("  perf script, with call graphs: {:.2f} µs/sample, without (-G): {:.2f} µs/sample -> unwinding {:.2f} µs/sample\n",
             p.script_with_us, p.script_without_us, p.script_unwind_us);
  fmt::print("  perf report, -g caller: {:.2f} µs/sample, -g none: {:.2f} µs/sample -> unwinding {:.2f} µs/sample\n",
             p.report_with_us, p.report_without_us, p.report_unwind_us);
  fmt::print("  perf samples: {}\n", p.samples);
  auto ratio = [](double x, double y) { return y > 0 ? x / y : 0.0; };
  fmt::print("  ratio perf script unwinding / ember compiled median (first pass): {:.1f}x; perf report: {:.1f}x; "
             "libunwind path: {:.1f}x\n",
             ratio(p.script_unwind_us, c_cold.wall_us.median), ratio(p.report_unwind_us, c_cold.wall_us.median),
             ratio(p.script_unwind_us, l_cold.wall_us.median));
  return 0;
}

}  // namespace

int cost(const Args& a) {
  const std::string input = ensure_input(a.input_dir + "/ember-bench-xz-input.txt", 64);
  const std::string seconds = std::to_string(static_cast<int>(a.seconds * 4 + 10));
  std::vector<Workload> workloads = {
      {"xz -T1 -6 (Debian's xz and liblzma, no frame pointers)", xz_command(input), 300ms, true},
      {"45-deep recursion (tests/fixtures/nofp: nofp_shapes deep --depth 44)",
       {EMBER_NOFP_SHAPES, "deep", "--seconds", seconds, "--depth", "44"}, 300ms, true},
      {"python3 (Debian's CPython: recursion and a generator)",
       {"/usr/bin/python3", "-c",
        "import time\ndef f(n):\n return f(n-1) if n else sum(i*i for i in range(2000))\n"
        "end=time.time()+" + seconds + "\nwhile time.time()<end: f(30)\n"},
       800ms, false},
  };
  int status = 0;
  for (const Workload& w : workloads) status |= cost_of(a, w);
  fmt::print("\nload after: {}\n", load_average());
  return status;
}

}  // namespace unwind_bench
