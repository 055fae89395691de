// Python frames, whole pipeline: what they cost ember and the program, and how often the Python
// stack read after a sample disagrees with the sample's native stack. One run prints:
//
//   merge      merge_python_stack on a synthetic stack with 30 Python frames: ns per sample
//   per-sample ember's CPU per Python sample at depth 30 (bench/python/depth30.py), per installed
//              CPython: getrusage of the Recorder polling loop without Python frames, with them
//              read in the kernel, and read from user space (same program, alternating), per
//              sample, the differences, the naming+intern time ember measured, the BPF program's
//              own time per run, and the kernel's floor (one raw process_vm_readv of 7.5 KiB)
//   slowdown   bench/python/cpu_bound.py alone, under `ember record -F 99`, under `perf record -g`
//              and `perf record --call-graph dwarf` (the peer: the same kernel-side sampling without
//              Python stacks), and both DWARF recorders at 999 Hz: the program's own CPU seconds,
//              runs interleaved, medians of the per-round ratios
//   staleness  bench/python/switcher.py (switches between one and two eval-loop calls every
//              millisecond): samples whose Python stack disagreed with the native stack, read in
//              the kernel, from user space woken per sample, and at a quarter of the ring
//
//   ember_python_bench [--python PATH] [--seconds N] [--runs R] [--rounds N]   (--python: that
//                      interpreter only; per-sample runs every installed one without it)
//                      [--parts merge,per-sample,staleness,slowdown]

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "collector/python_merge.h"
#include "pythons.h"
#include "collector/recorder.h"

namespace {

using namespace std::chrono_literals;
using ember::collector::CollectorStats;

const std::string kDir = EMBER_PYTHON_BENCH_DIR;

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// ---- merge ------------------------------------------------------------------------------------

void bench_merge() {
  using ember::profile::ModuleId;
  using ember::profile::RawFrame;
  namespace c = ember::collector;
  // 3.11-shaped: 30 Python frames in 3 eval-loop calls, glue between them, a libc leaf.
  std::vector<RawFrame> native;
  std::vector<c::NativeRole> roles;
  auto add = [&](uint64_t offset, c::NativeRole role) {
    native.push_back(RawFrame{ModuleId{0}, offset});
    roles.push_back(role);
  };
  add(0x100, c::NativeRole::kOther);
  for (int call = 0; call < 3; ++call) {
    add(0x2000, c::NativeRole::kEval);
    for (int glue = 0; glue < 4; ++glue) add(0x3000 + glue, c::NativeRole::kOther);
  }
  for (int i = 0; i < 6; ++i) add(0x4000 + i, c::NativeRole::kOther);
  std::vector<c::PythonMergeFrame> python;
  for (uint32_t i = 0; i < 30; ++i) python.push_back({RawFrame{ModuleId{1}, i}, i % 10 == 9});
  std::vector<RawFrame> out;
  constexpr int kIterations = 2'000'000;
  uint64_t sink = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kIterations; ++i) {
    auto r = c::merge_python_stack(native, roles, true, python, out);
    sink += out.size() + static_cast<uint64_t>(r.outcome);
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  fmt::print("merge      {:.0f} ns per sample (30 Python frames in 3 eval-loop calls, {} native frames; {})\n",
             ns / kIterations, native.size(), sink % 2 == 2 ? "" : "synthetic");
}

// ---- recordings in this process ----------------------------------------------------------------

struct InProcess {
  CollectorStats stats;
  double cpu = 0;  // ember's CPU seconds over the recording
  // The kernel-side reader's own time (kernel.bpf_stats_enabled), in the sampled threads'
  // interrupts, not in ember's CPU: its runs and nanoseconds over the recording.
  uint64_t bpf_runs = 0;
  uint64_t bpf_ns = 0;
};

// Where Python stacks are read: in the kernel at the sample (the default where BPF runs), from
// user space woken at every sample (the default elsewhere), or from user space at a quarter of
// the ring (as without Python frames).
enum class Reads { kKernel, kUserWoken, kUserQuarter };
const char* reads_name(Reads r) {
  switch (r) {
    case Reads::kKernel: return "kernel, at the sample      ";
    case Reads::kUserWoken: return "user space, woken per sample";
    case Reads::kUserQuarter: return "user space, at 1/4 ring    ";
  }
  return "";
}

// The run time of ember's BPF programs loaded now (bpf_stats_enabled must be on).
void bpf_program_stats(uint64_t& runs, uint64_t& ns) {
  runs = ns = 0;
  for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t size = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &size) == 0 && std::string_view(info.name).starts_with("ember_python")) {
      runs += info.run_cnt;
      ns += info.run_time_ns;
    }
    ::close(fd);
  }
}

InProcess record(const std::vector<std::string>& command, uint32_t hz, bool python, Reads reads = Reads::kKernel) {
  ember::collector::Target target;
  target.command = command;
  ember::collector::RecordOptions options;
  options.frequency_hz = hz;
  options.python.enabled = python;
  options.python.reads = reads == Reads::kKernel ? ember::collector::PythonOptions::Reads::kKernel
                                                 : ember::collector::PythonOptions::Reads::kUser;
  options.python.wake_per_sample = reads != Reads::kUserQuarter;
  InProcess out;
  const double cpu0 = cpu_seconds();
  auto rec = ember::collector::Recorder::start(target, options);
  if (!rec) {
    fmt::print(stderr, "ember_python_bench: {}\n", rec.error().message());
    std::exit(1);
  }
  for (;;) {
    auto more = (*rec)->poll(100ms);
    if (!more || !*more) break;
  }
  (*rec)->stop();
  (void)(*rec)->take_profile();
  out.cpu = cpu_seconds() - cpu0;
  out.stats = (*rec)->stats();
  bpf_program_stats(out.bpf_runs, out.bpf_ns);  // still loaded: the recorder is alive
  return out;
}

uint64_t python_samples(const ember::collector::CollectorStats& p) {
  return p.python_merged + p.python_merged_below_cut + p.python_stale_fewer + p.python_stale_more + p.python_no_eval_frames + p.python_not_in_python +
         p.python_read_missed + p.python_not_read;
}

// A Python process to measure the kernel's floor against: the same interpreter, parked.
struct Parked {
  pid_t pid = -1;
  explicit Parked(const std::string& python) {
    pid = ::fork();
    if (pid == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::execl(python.c_str(), python.c_str(), "-c", "import time; time.sleep(60)", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::usleep(300'000);
  }
  ~Parked() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

// "3.8.18 (pyenv)" for $PYENV_ROOT/versions/3.8.18/bin/python3.8, the path otherwise.
std::string label(const std::string& python) {
  const size_t versions = python.find("/versions/");
  if (versions == std::string::npos) return python;
  const size_t from = versions + 10;
  return python.substr(from, python.find('/', from) - from) + " (pyenv)";
}

// Per interpreter: ember's CPU per sample of depth30.py at 999 Hz with DWARF, without Python
// frames, with them read in the kernel (the default where BPF runs) and from user space woken per
// sample (the default elsewhere), recordings alternating; what ember timed of reading (or naming)
// and interning, the BPF program's own time per run (in the target's interrupts), and the
// kernel's floor for a user-space read (one process_vm_readv of a 30-frame stack's 7.5 KiB).
void bench_per_sample(const std::vector<std::string>& pythons, double seconds, int runs) {
  const std::string secs = fmt::format("{}", seconds);
  // BPF run times are kept only while kernel.bpf_stats_enabled is 1; it is put back after.
  auto set_bpf_stats = [](const char* value) {
    FILE* f = std::fopen("/proc/sys/kernel/bpf_stats_enabled", "r+");
    if (!f) return std::string();
    char before[8] = {};
    if (!std::fgets(before, sizeof before, f)) before[0] = '0';
    std::rewind(f);
    const bool ok = std::fputs(value, f) >= 0;
    return std::fclose(f) == 0 && ok ? std::string(1, before[0]) : std::string();
  };
  const std::string bpf_stats_before = set_bpf_stats("1");
  const bool bpf_stats = !bpf_stats_before.empty();
  fmt::print("per-sample ember CPU per sample of depth30.py (30 Python frames), 999 Hz, DWARF; medians of {} runs\n", runs);
  fmt::print("           {:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "interpreter", "without",
             "kernel", "kernel", "naming", "BPF run", "user", "user", "raw floor");
  fmt::print("           {:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "", "Python",
             "reads", "+us", "+intern", "us/read", "reads", "+us", "one read");
  if (!bpf_stats) fmt::print("           (kernel.bpf_stats_enabled could not be set: no BPF run times)\n");
  {
    // A program without CPython (a shell loop) recorded with Python frames on and off: not woken
    // per sample either way (only a process that runs CPython would be), so the difference is
    // what Python frames cost a program that has none.
    std::vector<double> on_us, off_us;
    for (int r = 0; r < runs; ++r) {
      const std::vector<std::string> loop = {"timeout", secs, "sh", "-c", "while :; do :; done"};
      InProcess off = record(loop, 999, false);
      InProcess on = record(loop, 999, true);
      if (on.stats.samples == 0 || off.stats.samples == 0) continue;
      on_us.push_back(on.cpu / static_cast<double>(on.stats.samples) * 1e6);
      off_us.push_back(off.cpu / static_cast<double>(off.stats.samples) * 1e6);
    }
    fmt::print("           {:<22} {:>10.2f} {:>10.2f} {:>10.2f} {:>10} {:>10} {:>10} {:>10} {:>10}   (no CPython)\n",
               "sh loop", median(off_us), median(on_us), median(on_us) - median(off_us), "-", "-", "-", "-", "-");
  }
  for (const std::string& python : pythons) {
    std::vector<double> without, kernel, kernel_added, naming, bpf, user, user_added;
    for (int r = 0; r < runs; ++r) {
      InProcess off = record({python, kDir + "/depth30.py", secs}, 999, false);
      InProcess in_kernel = record({python, kDir + "/depth30.py", secs}, 999, true, Reads::kKernel);
      InProcess in_user = record({python, kDir + "/depth30.py", secs}, 999, true, Reads::kUserWoken);
      if (off.stats.samples == 0 || in_kernel.stats.samples == 0 || in_user.stats.samples == 0) continue;
      auto per_sample = [](const InProcess& x) { return x.cpu / static_cast<double>(x.stats.samples) * 1e6; };
      without.push_back(per_sample(off));
      kernel.push_back(per_sample(in_kernel));
      kernel_added.push_back(per_sample(in_kernel) - per_sample(off));
      user.push_back(per_sample(in_user));
      user_added.push_back(per_sample(in_user) - per_sample(off));
      const auto& k = in_kernel.stats;
      naming.push_back(static_cast<double>(k.python_read_ns) / static_cast<double>(std::max<uint64_t>(k.python_stacks_read, 1)) / 1e3);
      if (in_kernel.bpf_runs) bpf.push_back(static_cast<double>(in_kernel.bpf_ns) / static_cast<double>(in_kernel.bpf_runs) / 1e3);
    }
    double floor = -1;
    {
      Parked parked(python);
      floor = ember::bench::raw_read_us(parked.pid, 1, 1, 30 * 256, 2000);
    }
    auto runs_text = [](const std::vector<double>& v) {
      std::string text;
      for (double a : v) text += fmt::format("{}{:.1f}", text.empty() ? "" : " ", a);
      return text;
    };
    fmt::print("           {:<22} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f}   "
               "(kernel +: {}; user +: {})\n",
               label(python), median(without), median(kernel), median(kernel_added), median(naming),
               bpf.empty() ? -1.0 : median(bpf), median(user), median(user_added), floor, runs_text(kernel_added),
               runs_text(user_added));
  }
  if (bpf_stats) set_bpf_stats(bpf_stats_before.c_str());
}

void bench_staleness(const std::string& python, double seconds, int runs) {
  constexpr Reads kModes[] = {Reads::kKernel, Reads::kUserWoken, Reads::kUserQuarter};
  std::vector<double> shares[3];
  for (int r = 0; r < runs; ++r) {
    for (size_t m = 0; m < 3; ++m) {
      InProcess on = record({python, kDir + "/switcher.py", fmt::format("{}", seconds)}, 999, true, kModes[m]);
      const auto& p = on.stats;
      const uint64_t n = python_samples(p);
      const uint64_t stale = p.python_stale_fewer + p.python_stale_more;
      if (n) shares[m].push_back(100.0 * static_cast<double>(stale) / static_cast<double>(n));
      fmt::print("  run {}, {}: {} of {} Python samples ({:.2f}%) disagreed with their native stack ({} fewer, {} more "
                 "Python calls); merged {}, not in Python {}, missed {}; read in the kernel {}, from user space after "
                 "the sample {}\n",
                 r + 1, reads_name(kModes[m]), stale, n, n ? shares[m].back() : 0.0, p.python_stale_fewer,
                 p.python_stale_more, p.python_merged + p.python_merged_below_cut, p.python_not_in_python,
                 p.python_read_missed, p.python_kernel_reads,
                 p.python_kernel_reads != 0 ? p.python_kernel_fallbacks : p.python_stacks_read);
    }
  }
  for (size_t m = 0; m < 3; ++m) {
    fmt::print("staleness  {}: {:.2f}% of Python samples disagreed with their native stack (median of {}, "
               "range {:.2f}% .. {:.2f}%)\n",
               reads_name(kModes[m]), median(shares[m]), shares[m].size(),
               shares[m].empty() ? 0.0 : *std::min_element(shares[m].begin(), shares[m].end()),
               shares[m].empty() ? 0.0 : *std::max_element(shares[m].begin(), shares[m].end()));
  }
}

// ---- slowdown ---------------------------------------------------------------------------------

// Runs argv, returns the first line it printed (the program's CPU seconds), or -1.
double run_program(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::close(fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.empty()) return -1;
  return std::strtod(out.c_str(), nullptr);
}

// The p-th quantile (0..1) by linear interpolation.
double quantile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Each round runs the program alone, under ember and under perf at 99 Hz and at 999 Hz, in an
// order that rotates from round to round (a machine whose load drifts favours no mode), and
// compares the program's own CPU seconds with the same round's run alone. What a tool costs
// the target grows with the sample rate: at 999 Hz it is ten times what it is at 99 Hz and
// stands out of the noise, so the 999 Hz ratio divided by ten is a second estimate of the 99 Hz
// slowdown. Medians, quartiles and ranges of the per-round ratios are printed.
void bench_slowdown(const std::string& python, int runs, int rounds) {
  const std::string program = kDir + "/cpu_bound.py";
  const std::string n = std::to_string(rounds);
  const std::string tmp = fmt::format("/tmp/ember-python-bench-{}", ::getpid());
  struct Mode {
    const char* name;
    std::vector<std::string> argv;
  };
  auto ember = [&](const char* hz) {
    return std::vector<std::string>{EMBER_BIN, "record", "-q", "-F", hz, "-o", tmp + ".folded", "--", python, program, n};
  };
  auto perf = [&](const char* hz, const char* graph) {
    return std::vector<std::string>{"perf", "record", "-q", "-F", hz, "--call-graph", graph, "-o", tmp + ".data", "--",
                                    python, program, n};
  };
  const std::vector<Mode> modes = {{"alone", {python, program, n}},
                                   {"ember -F 99", ember("99")},
                                   {"perf -g -F 99", perf("99", "fp")},
                                   {"perf dwarf -F 99", perf("99", "dwarf")},
                                   {"ember -F 999", ember("999")},
                                   {"perf dwarf -F 999", perf("999", "dwarf")}};
  const size_t m = modes.size();
  std::vector<std::vector<double>> ratios(m);
  std::vector<double> alone;
  size_t failed = 0;
  for (int r = 0; r < runs; ++r) {
    std::vector<double> got(m, -1);
    for (size_t k = 0; k < m; ++k) {
      const size_t mode = (static_cast<size_t>(r) + k) % m;
      got[mode] = run_program(modes[mode].argv);
    }
    std::string line = fmt::format("  run {:2}: alone {:.3f} s", r + 1, got[0]);
    if (got[0] > 0) alone.push_back(got[0]);
    for (size_t mode = 1; mode < m; ++mode) {
      if (got[0] > 0 && got[mode] > 0) {
        ratios[mode].push_back(got[mode] / got[0]);
        line += fmt::format(", {} {:+.2f}%", modes[mode].name, (got[mode] / got[0] - 1) * 100);
      } else {
        failed++;
        line += fmt::format(", {} failed", modes[mode].name);
      }
    }
    fmt::print("{}\n", line);
  }
  std::remove((tmp + ".folded").c_str());
  std::remove((tmp + ".data").c_str());
  auto spread = [](const std::vector<double>& v) {
    return fmt::format("{:+.2f}% (quartiles {:+.2f}% .. {:+.2f}%, range {:+.2f}% .. {:+.2f}%, {} rounds)",
                       (median(v) - 1) * 100, (quantile(v, 0.25) - 1) * 100, (quantile(v, 0.75) - 1) * 100,
                       (quantile(v, 0) - 1) * 100, (quantile(v, 1) - 1) * 100, v.size());
  };
  fmt::print("slowdown   program CPU (median {:.3f} s alone), per-round ratio to the same round alone{}:\n",
             median(alone), failed ? fmt::format(" ({} runs failed and were left out)", failed) : "");
  for (size_t mode = 1; mode < m; ++mode) fmt::print("           {:17} {}\n", modes[mode].name, spread(ratios[mode]));
  fmt::print("           99 Hz estimated from 999 Hz / 10: ember {:+.2f}%, perf dwarf {:+.2f}%\n",
             (median(ratios[4]) - 1) * 10, (median(ratios[5]) - 1) * 10);
}

}  // namespace

int main(int argc, char** argv) {
  std::string python = "/usr/bin/python3.11";
  bool all_pythons = true;  // per-sample: every installed CPython unless --python names one
  double seconds = 5;
  int runs = 5;
  int rounds = 600;
  std::string parts = "merge,per-sample,staleness,slowdown";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "ember_python_bench: {} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--python") {
      python = value();
      all_pythons = false;
    } else if (a == "--seconds") {
      seconds = std::strtod(value().c_str(), nullptr);
    } else if (a == "--runs") {
      runs = std::atoi(value().c_str());
    } else if (a == "--rounds") {
      rounds = std::atoi(value().c_str());
    } else if (a == "--parts") {
      parts = value();
    } else {
      fmt::print(stderr, "ember_python_bench: unknown option '{}'\n", a);
      return 2;
    }
  }
  fmt::print("ember_python_bench: {} , {} s recordings, {} runs\n", python, seconds, runs);
  auto wanted = [&](const char* part) { return ("," + parts + ",").find(std::string(",") + part + ",") != std::string::npos; };
  if (wanted("merge")) bench_merge();
  if (wanted("per-sample")) bench_per_sample(all_pythons ? ember::bench::installed_pythons() : std::vector{python}, seconds, runs);
  if (wanted("staleness")) bench_staleness(python, seconds, runs);
  if (wanted("slowdown")) bench_slowdown(python, runs, rounds);
  return 0;
}
