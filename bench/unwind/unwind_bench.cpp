// ember_unwind_bench: DWARF call graphs, ember next to `perf record --call-graph dwarf`, each
// figure printed side by side in the same run. Nothing is asserted (see README.md).
//
//   ember_unwind_bench cost     [--seconds N] [--frequency F] [--stack-size B]
//       CPU time per sample spent unwinding. ember: samples of the workload recorded with
//       registers and stack copies, then replayed through the DWARF unwinder, each timed (a first
//       pass with empty caches, as a recording starts, and a second one). perf: `perf script` of
//       the same workload with and without call graphs (perf unwinds when it reports).
//   overhead [--rounds R] [--frequency F]
//       The target's run time alone, under ember (DWARF, 32 KiB) and under perf record
//       --call-graph dwarf, rounds interleaved; the target measures itself (wall and CPU).
//   xz       [--seconds N] [--size-mb M]
//       How often a stack of `xz -T1` reaches __libc_start_call_main or _start: ember (32 KiB)
//       and perf (its default 8 KiB, and 32 KiB), from the named stacks of each.
//
// The workload is `xz -T1 -6` compressing a semi-random text file made once in /tmp.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/unwind/unwind_bench.h"
#include "collector/dwarf_unwinder.h"
#include "collector/event_source.h"
#include "collector/module_cache.h"
#include "collector/process_table.h"
#include "collector/recorder.h"
#include "profile/folded.h"
#include "symbolizer/build_profile.h"
#include "symbolizer/symbolizer.h"

namespace unwind_bench {

using namespace std::chrono_literals;
using ember::collector::CollectorStats;

// ---------------------------------------------------------------------------------------------
// Processes

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double rusage_seconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return rusage_seconds(ru);
}

// Starts argv with stdout to `out` ("" for /dev/null) and stderr to /dev/null unless `show_errors`.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out, bool show_errors, int stdout_fd) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = stdout_fd >= 0 ? stdout_fd : ::open(out.empty() ? "/dev/null" : out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    if (!show_errors) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDERR_FILENO);
    }
    ::execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

Exit wait_child(pid_t pid) {
  Exit e;
  rusage ru{};
  ::wait4(pid, &e.status, 0, &ru);
  e.cpu_seconds = rusage_seconds(ru);
  return e;
}

// Runs argv, returning its stdout and CPU time.
std::pair<std::string, Exit> run_capture(const std::vector<std::string>& argv) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  pid_t pid = spawn(argv, "", false, p[1]);
  ::close(p[1]);
  std::string out;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  return {std::move(out), wait_child(pid)};
}

// A semi-random text: words from a small vocabulary (compressible) mixed with base64 of random
// bytes (not), so that xz works through all its match finders and encoders.
std::string ensure_input(const std::string& path, size_t megabytes) {
  struct stat st{};
  const size_t bytes = megabytes << 20;
  if (::stat(path.c_str(), &st) == 0 && static_cast<size_t>(st.st_size) >= bytes) return path;
  fmt::print(stderr, "making {} ({} MB)...\n", path, megabytes);
  static const char* kWords[] = {"profile", "stack", "frame", "unwind", "sample", "kernel", "perf",
                                 "dwarf", "ember", "symbol", "inline", "caller", "callee", "table"};
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::mt19937_64 rng(42);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::string line;
  size_t written = 0;
  while (written < bytes) {
    line.clear();
    if (rng() % 2 == 0) {
      for (int i = 0; i < 12; ++i) {
        line += kWords[rng() % std::size(kWords)];
        line += ' ';
      }
    } else {
      for (int i = 0; i < 76; ++i) line += kB64[rng() % 64];
    }
    line += '\n';
    out << line;
    written += line.size();
  }
  return path;
}

std::vector<std::string> xz_command(const std::string& input) { return {"xz", "-T1", "-6", "-c", input}; }

// ---------------------------------------------------------------------------------------------
// Statistics

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  s.median = at(0.5);
  s.p90 = at(0.9);
  s.p99 = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

double median(std::vector<double> v) { return summarize(std::move(v)).median; }

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---------------------------------------------------------------------------------------------
// perf

// perf record --call-graph dwarf[,size] -F f for `seconds`, on a command it launches.
PerfRun perf_record(const std::vector<std::string>& command, uint32_t stack_size, uint32_t frequency,
                    double seconds, const std::string& data) {
  // --buildid-mmap: MMAP2 records carry build-ids. Without it, perf 6.1 on the machine of the
  // README's figures aborted reading most recordings (it took a device number, 0xfe, for a
  // build-id size: "assertion failed at util/build-id.c:1010", then a smashed stack).
  std::vector<std::string> argv = {"perf", "record", "-q", "--buildid-mmap", "-F", std::to_string(frequency), "--call-graph",
                                   stack_size == 0 ? std::string("dwarf") : fmt::format("dwarf,{}", stack_size),
                                   "-o", data, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  pid_t pid = spawn(argv);
  PerfRun r;
  r.data = data;
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    ::kill(pid, SIGINT);  // perf stops, ends the workload and writes the file
  }
  Exit e = wait_child(pid);
  r.record_cpu = e.cpu_seconds;
  r.ok = ::access(data.c_str(), R_OK) == 0;
  return r;
}

bool perf_exited_normally(std::initializer_list<Exit> exits) {
  for (const Exit& e : exits) {
    if (!WIFEXITED(e.status) || WEXITSTATUS(e.status) != 0) return false;
  }
  return true;
}

// perf script's samples: one header line, then one line per frame, then a blank line.
std::vector<PerfSample> parse_perf_script(const std::string& text) {
  std::vector<PerfSample> out;
  std::istringstream in(text);
  std::string line;
  PerfSample current;
  bool open = false;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (open) out.push_back(std::move(current));
      current = PerfSample{};
      open = false;
      continue;
    }
    if (line[0] != ' ' && line[0] != '\t') {
      if (open) out.push_back(std::move(current));
      current = PerfSample{};
      std::istringstream h(line);
      h >> current.comm;
      open = true;
      continue;
    }
    // "\t    7f12 symbol+0x10 (dso)": the symbol is the second field.
    std::istringstream f(line);
    std::string address, symbol;
    f >> address >> symbol;
    if (auto plus = symbol.find('+'); plus != std::string::npos) symbol.resize(plus);
    current.symbols.push_back(symbol);
  }
  if (open) out.push_back(std::move(current));
  return out;
}

// ---------------------------------------------------------------------------------------------
// ember

// Records a command with the Recorder until it ends or `seconds` pass; ember's own CPU time.
EmberRun ember_record(const std::vector<std::string>& command, ember::collector::RecordOptions options, double seconds) {
  EmberRun run;
  ember::collector::Target target;
  target.command = command;
  const double cpu0 = self_cpu_seconds();
  auto rec = ember::collector::Recorder::start(target, options);
  if (!rec) {
    fmt::print(stderr, "ember: {}\n", rec.error().message());
    return run;
  }
  run.pid = (*rec)->command_pid();
  const double start = now_seconds();
  const double end = seconds > 0 ? start + seconds : 1e300;
  // Past the start (tables loaded, the target's maps read): the steady per-sample cost.
  const double steady_from = start + std::min(2.0, seconds / 4);
  double steady_cpu0 = -1;
  uint64_t steady_samples0 = 0, steady_allocations0 = 0;
  while (now_seconds() < end) {
    auto more = (*rec)->poll(100ms);
    if (!more || !*more) break;
    if (steady_cpu0 < 0 && now_seconds() >= steady_from) {
      steady_cpu0 = self_cpu_seconds();
      steady_samples0 = (*rec)->stats().samples;
      steady_allocations0 = allocations();
    }
  }
  const double steady_cpu1 = self_cpu_seconds();
  const uint64_t steady_allocations1 = allocations();
  run.stats = (*rec)->stats();
  if (steady_cpu0 >= 0) {
    run.steady_cpu_seconds = steady_cpu1 - steady_cpu0;
    run.steady_samples = run.stats.samples - steady_samples0;
    run.steady_allocations = steady_allocations1 - steady_allocations0;
  }
  (*rec)->stop();
  run.raw = (*rec)->take_profile();
  run.stats = (*rec)->stats();
  run.cpu_seconds = self_cpu_seconds() - cpu0;
  return run;
}

std::vector<std::string> shell_quiet(const std::vector<std::string>& command) {
  // exec: the command keeps the shell's pid; its output goes nowhere.
  std::string line = "exec";
  for (const std::string& a : command) line += " '" + a + "'";
  return {"/bin/sh", "-c", line + " > /dev/null"};
}

// ---------------------------------------------------------------------------------------------
// Modes


// The target measures itself: `ember_unwind_bench timeit OUT -- COMMAND...` runs COMMAND and
// writes "wall cpu" seconds to OUT, so each tool's start-up and wind-down stay out of it.
int timeit(const Args& a) {
  if (a.rest.size() < 3 || a.rest[1] != "--") return 2;
  std::vector<std::string> command(a.rest.begin() + 2, a.rest.end());
  const double t0 = now_seconds();
  pid_t pid = spawn(command);
  Exit e = wait_child(pid);
  const double wall = now_seconds() - t0;
  std::ofstream(a.rest[0]) << fmt::format("{:.6f} {:.6f}\n", wall, e.cpu_seconds);
  return WIFEXITED(e.status) ? WEXITSTATUS(e.status) : 1;
}

std::pair<double, double> read_timing(const std::string& path) {
  std::ifstream in(path);
  double wall = 0, cpu = 0;
  in >> wall >> cpu;
  return {wall, cpu};
}

int overhead(const Args& a, const std::string& self) {
  const std::string input = ensure_input(a.input_dir + "/ember-bench-xz-small.txt", 8);
  const std::string timing = a.input_dir + "/ember-bench-timing.txt";
  std::vector<std::string> target = {self, "timeit", timing, "--"};
  for (const std::string& s : xz_command(input)) target.push_back(s);
  fmt::print("target: xz -T1 -6 on {} (8 MiB) | {} Hz | {} rounds, modes interleaved | load {}\n", input,
             a.frequency, a.rounds, load_average());
  std::map<std::string, std::vector<double>> wall, cpu;
  const std::vector<std::string> modes = {"alone", "ember", "perf"};
  for (int round = 0; round < a.rounds; ++round) {
    for (size_t k = 0; k < modes.size(); ++k) {
      const std::string& mode = modes[(k + static_cast<size_t>(round)) % modes.size()];
      ::unlink(timing.c_str());
      if (mode == "alone") {
        wait_child(spawn(target));
      } else if (mode == "ember") {
        ember::collector::RecordOptions o;
        o.frequency_hz = a.frequency;
        o.stack_size = 32768;
        ember_record(target, o, 0);
      } else {
        const std::string data = a.input_dir + "/ember-bench-overhead.data";
        perf_record(target, 0, a.frequency, 0, data);
        ::unlink(data.c_str());
      }
      auto [w, c] = read_timing(timing);
      wall[mode].push_back(w);
      cpu[mode].push_back(c);
      fmt::print("  round {} {:<6} wall {:.3f} s  cpu {:.3f} s\n", round + 1, mode, w, c);
    }
  }
  const double base_wall = median(wall["alone"]);
  const double base_cpu = median(cpu["alone"]);
  // Medians, and minimums: on a shared machine the fastest run is the one least disturbed.
  auto min_of = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); };
  const double min_wall = min_of(wall["alone"]);
  const double min_cpu = min_of(cpu["alone"]);
  fmt::print("\n  {:<6} {:>11} {:>7} {:>11} {:>7} {:>11} {:>7} {:>11} {:>7}\n", "mode", "wall med", "ratio", "wall min",
             "ratio", "cpu med", "ratio", "cpu min", "ratio");
  for (const std::string& mode : modes) {
    fmt::print("  {:<6} {:>9.3f} s {:>7.4f} {:>9.3f} s {:>7.4f} {:>9.3f} s {:>7.4f} {:>9.3f} s {:>7.4f}\n", mode,
               median(wall[mode]), median(wall[mode]) / base_wall, min_of(wall[mode]), min_of(wall[mode]) / min_wall,
               median(cpu[mode]), median(cpu[mode]) / base_cpu, min_of(cpu[mode]), min_of(cpu[mode]) / min_cpu);
  }
  // cpu-clock samples the target's CPU time: about frequency x cpu samples were taken, and
  // the extra CPU time per sample is what one sample costs the target (kernel copy, interrupt,
  // cache). At high frequencies it stands out of the noise; 99 Hz is then a multiplication.
  for (const std::string& mode : {std::string("ember"), std::string("perf")}) {
    const double extra = min_of(cpu[mode]) - min_cpu;
    const double per_sample_us = extra / (a.frequency * min_of(cpu[mode])) * 1e6;
    fmt::print("  {}: {:.1f} µs of target CPU per sample (from the minimums) -> {:.2f}% at 99 Hz\n", mode,
               per_sample_us, per_sample_us * 99 * 1e-4);
  }
  ::unlink(timing.c_str());
  fmt::print("  load after: {}\n", load_average());
  return 0;
}

bool reaches_start(const std::vector<std::string>& frames) {
  for (const std::string& f : frames) {
    if (f == "__libc_start_call_main" || f == "_start") return true;
  }
  return false;
}

int xz(const Args& a) {
  const std::string input = ensure_input(a.input_dir + "/ember-bench-xz-input-" + std::to_string(a.size_mb) + ".txt", a.size_mb);
  fmt::print("workload: xz -T1 -6 on {} ({} MB) | {} Hz | {} s per tool | load {}\n", input, a.size_mb, a.frequency,
             a.seconds, load_average());
  const std::vector<std::string> command = shell_quiet(xz_command(input));

  ember::collector::RecordOptions o;
  o.frequency_hz = a.frequency;
  o.stack_size = 32768;
  EmberRun run = ember_record(command, o, a.seconds);
  // Names of every unique frame (inline frames included).
  ember::symbolizer::Options so;
  auto symbols = ember::symbolizer::make_symbolizer(so);
  std::map<std::pair<uint32_t, uint64_t>, std::vector<std::string>> names;
  run.raw.for_each_stack([&](const ember::profile::SampleOrigin&, std::span<const ember::profile::RawFrame> frames,
                             const ember::profile::RawStackCounts&) {
    for (const auto& f : frames) {
      if (f.module.valid()) names[{f.module.value, f.offset}];
    }
  });
  std::map<uint32_t, std::vector<uint64_t>> by_module;
  for (const auto& [key, unused] : names) by_module[key.first].push_back(key.second);
  for (const auto& [module, offsets] : by_module) {
    const ember::profile::Module& m = run.raw.module(ember::profile::ModuleId{module});
    std::vector<ember::symbolizer::Symbol> syms = symbols->symbolize(m, offsets);
    for (size_t i = 0; i < offsets.size() && i < syms.size(); ++i) {
      for (const auto& frame : syms[i].frames) names[{module, offsets[i]}].push_back(frame.function);
    }
  }
  int64_t ember_total = 0, ember_reached = 0;
  std::vector<std::string> ember_misses;  // a few stacks that do not reach, for the reader
  run.raw.for_each_stack([&](const ember::profile::SampleOrigin& o, std::span<const ember::profile::RawFrame> frames,
                             const ember::profile::RawStackCounts& counts) {
    if (run.raw.str(o.comm) != "xz") return;
    ember_total += static_cast<int64_t>(counts.samples);
    bool reached = false;
    std::string line;
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      if (!it->module.valid()) continue;
      const auto& n = names[{it->module.value, it->offset}];
      reached = reached || reaches_start(n);
      line += (line.empty() ? "" : ";") + (n.empty() ? fmt::format("{:#x}", it->offset) : n.back());
    }
    if (reached) {
      ember_reached += static_cast<int64_t>(counts.samples);
    } else if (ember_misses.size() < 5) {
      ember_misses.push_back(fmt::format("{} {}", line, counts.samples));
    }
  });

  struct PerfFigures {
    size_t total = 0, reached = 0;
    std::vector<std::string> misses;
  };
  auto perf_run = [&](uint32_t stack_size) {
    const std::string data = a.input_dir + "/ember-bench-xz.data";
    std::string text;
    for (int attempt = 0; attempt < kPerfAttempts; ++attempt) {
      perf_record(command, stack_size, a.frequency, a.seconds, data);
      auto [out, exit] = run_capture({"perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"});
      ::unlink(data.c_str());
      if (perf_exited_normally({exit})) {
        text = std::move(out);
        break;
      }
      fmt::print("  (perf aborted reading its recording, dwarf {}; recording again)\n", stack_size);
    }
    PerfFigures f;
    for (const PerfSample& s : parse_perf_script(text)) {
      if (s.comm != "xz") continue;
      f.total++;
      if (reaches_start(s.symbols)) {
        f.reached++;
      } else if (f.misses.size() < 5) {
        std::string line;
        for (auto it = s.symbols.rbegin(); it != s.symbols.rend(); ++it) line += (line.empty() ? "" : ";") + *it;
        f.misses.push_back(line);
      }
    }
    return f;
  };
  PerfFigures perf8 = perf_run(0);
  PerfFigures perf32 = perf_run(32768);

  auto pct = [](double part, double whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; };
  fmt::print("\nxz samples whose stack reaches __libc_start_call_main or _start\n");
  fmt::print("  {:<40} {:>10} {:>10} {:>9}\n", "", "samples", "reached", "percent");
  fmt::print("  {:<40} {:>10} {:>10} {:>8.2f}%\n", "ember, DWARF, 32 KiB copy", ember_total, ember_reached,
             pct(static_cast<double>(ember_reached), static_cast<double>(ember_total)));
  fmt::print("  {:<40} {:>10} {:>10} {:>8.2f}%\n", "perf --call-graph dwarf (8 KiB, default)", perf8.total, perf8.reached,
             pct(static_cast<double>(perf8.reached), static_cast<double>(perf8.total)));
  fmt::print("  {:<40} {:>10} {:>10} {:>8.2f}%\n", "perf --call-graph dwarf,32768", perf32.total, perf32.reached,
             pct(static_cast<double>(perf32.reached), static_cast<double>(perf32.total)));
  auto show = [](const char* who, const std::vector<std::string>& misses) {
    for (const std::string& m : misses) fmt::print("    {} miss: {}\n", who, m);
  };
  show("ember", ember_misses);
  show("perf 8 KiB", perf8.misses);
  show("perf 32 KiB", perf32.misses);
  const CollectorStats& st = run.stats;
  fmt::print("  ember unwinds: {} to root, {} stack-copy end, {} no CFI, {} bad memory, {} bad frame, {} frame-pointer steps, {} lost samples\n",
             st.dwarf_to_root, st.dwarf_stack_end, st.dwarf_no_cfi, st.dwarf_bad_memory, st.dwarf_bad_frame,
             st.dwarf_frame_pointer_steps, st.lost_samples);
  fmt::print("  load after: {}\n", load_average());
  return 0;
}

}  // namespace unwind_bench

int main(int argc, char** argv) {
  using namespace unwind_bench;
  Args a;
  if (argc < 2) {
    fmt::print(stderr, "usage: {} cost|overhead|xz [--seconds N] [--frequency F] [--stack-size B] [--rounds R] [--size-mb M] [--dir D]\n", argv[0]);
    return 2;
  }
  a.mode = argv[1];
  if (a.mode == "overhead") a.frequency = 99;
  for (int i = 2; i < argc; ++i) {
    std::string opt = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a.mode == "timeit") {
      a.rest.push_back(opt);
    } else if (opt == "--seconds") {
      a.seconds = std::atof(value().c_str());
    } else if (opt == "--frequency") {
      a.frequency = static_cast<uint32_t>(std::atoi(value().c_str()));
    } else if (opt == "--stack-size") {
      a.stack_size = static_cast<uint32_t>(std::atoi(value().c_str()));
    } else if (opt == "--rounds") {
      a.rounds = std::atoi(value().c_str());
    } else if (opt == "--size-mb") {
      a.size_mb = static_cast<size_t>(std::atol(value().c_str()));
    } else if (opt == "--passes") {
      a.passes = std::max(2, std::atoi(value().c_str()));
    } else if (opt == "--ember-only") {
      a.ember_only = true;
    } else if (opt == "--dir") {
      a.input_dir = value();
    } else {
      fmt::print(stderr, "unknown option {}\n", opt);
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  if (a.mode == "cost") return cost(a);
  if (a.mode == "overhead") {
    char self[4096] = {};
    if (::readlink("/proc/self/exe", self, sizeof self - 1) <= 0) return 1;
    return overhead(a, self);
  }
  if (a.mode == "xz") return xz(a);
  if (a.mode == "timeit") return timeit(a);
  fmt::print(stderr, "unknown mode {}\n", a.mode);
  return 2;
}
