// Python frames, whole pipeline: what they cost ember and the program, and how often the Python
// stack read after a sample disagrees with the sample's native stack. One run prints:
//
//   merge      merge_python_stack on a synthetic stack with 30 Python frames: ns per sample
//   per-sample ember's CPU per Python sample at depth 30 (bench/python/depth30.py), per installed
//              CPython: getrusage of the Recorder polling loop with Python frames on and off (same
//              program, alternating), per sample, their difference, the read+intern time ember
//              measured, and the kernel's floor (one raw process_vm_readv of 7.5 KiB)
//   slowdown   bench/python/cpu_bound.py alone, under `ember record -F 99`, under `perf record -g`
//              and `perf record --call-graph dwarf` (the peer: the same kernel-side sampling without
//              Python stacks), and both DWARF recorders at 999 Hz: the program's own CPU seconds,
//              runs interleaved, medians of the per-round ratios
//   staleness  bench/python/switcher.py (switches between one and two eval-loop calls every
//              millisecond): samples whose Python stack disagreed with the native stack
//
//   ember_python_bench [--python PATH] [--seconds N] [--runs R] [--rounds N]   (--python: that
//                      interpreter only; per-sample runs every installed one without it)
//                      [--parts merge,per-sample,staleness,slowdown]

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
};

InProcess record(const std::vector<std::string>& command, uint32_t hz, bool python, bool wake_per_sample = true) {
  ember::collector::Target target;
  target.command = command;
  ember::collector::RecordOptions options;
  options.frequency_hz = hz;
  options.python.enabled = python;
  options.python.wake_per_sample = wake_per_sample;
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
  return out;
}

uint64_t python_samples(const ember::collector::CollectorStats& p) {
  return p.python_merged + p.python_merged_below_cut + p.python_stale_fewer + p.python_stale_more + p.python_no_eval_frames + p.python_not_in_python +
         p.python_read_missed + p.python_not_read;
}

// Python frames read after a wake-up at every sample (the default), and after wake-ups at a
// quarter of the ring (as without Python frames): what the per-sample wake-up buys.
const char* wake_name(bool per_sample) { return per_sample ? "wake at every sample" : "wake at 1/4 ring  "; }

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

// Per interpreter: ember's CPU per sample of depth30.py at 999 Hz with DWARF, with Python frames
// and without (the same program, recordings alternating), what ember timed of reading and
// interning, and the kernel's floor (one process_vm_readv of a 30-frame stack's 7.5 KiB).
void bench_per_sample(const std::vector<std::string>& pythons, double seconds, int runs) {
  const std::string secs = fmt::format("{}", seconds);
  fmt::print("per-sample ember CPU per sample of depth30.py (30 Python frames), 999 Hz, DWARF; medians of {} runs\n", runs);
  fmt::print("           {:<22} {:>14} {:>14} {:>16} {:>12} {:>16}\n", "interpreter", "without Python",
             "with Python", "Python frames:", "of which", "raw floor: one");
  fmt::print("           {:<22} {:>14} {:>14} {:>16} {:>12} {:>16}\n", "", "us/sample", "us/sample",
             "+us/sample", "read+intern", "7.5 KiB read us");
  {
    // A program without CPython (a shell loop) recorded with Python frames on and off: its
    // events are opened to wake the poller at a quarter of the ring either way (only a process
    // that runs CPython wakes it per sample), so the difference is what Python frames cost a
    // program that has none: a lookup per sample.
    std::vector<double> woken, quarter;
    for (int r = 0; r < runs; ++r) {
      const std::vector<std::string> loop = {"timeout", secs, "sh", "-c", "while :; do :; done"};
      InProcess off = record(loop, 999, false);
      InProcess on = record(loop, 999, true);
      if (on.stats.samples == 0 || off.stats.samples == 0) continue;
      woken.push_back(on.cpu / static_cast<double>(on.stats.samples) * 1e6);
      quarter.push_back(off.cpu / static_cast<double>(off.stats.samples) * 1e6);
    }
    fmt::print("           {:<22} {:>14.2f} {:>14.2f} {:>16.2f} {:>12} {:>16}   (no CPython: not woken per sample)\n",
               "sh loop", median(quarter), median(woken), median(woken) - median(quarter), "-", "-");
  }
  for (const std::string& python : pythons) {
    std::vector<double> with, without, added, read;
    for (int r = 0; r < runs; ++r) {
      InProcess off = record({python, kDir + "/depth30.py", secs}, 999, false);
      InProcess on = record({python, kDir + "/depth30.py", secs}, 999, true);
      const auto& p = on.stats;
      if (python_samples(p) == 0 || on.stats.samples == 0 || off.stats.samples == 0) continue;
      const double on_per = on.cpu / static_cast<double>(on.stats.samples) * 1e6;
      const double off_per = off.cpu / static_cast<double>(off.stats.samples) * 1e6;
      with.push_back(on_per);
      without.push_back(off_per);
      added.push_back(on_per - off_per);
      read.push_back(static_cast<double>(p.python_read_ns) / static_cast<double>(std::max<uint64_t>(p.python_stacks_read, 1)) / 1e3);
    }
    double floor = -1;
    {
      Parked parked(python);
      floor = ember::bench::raw_read_us(parked.pid, 1, 1, 30 * 256, 2000);
    }
    fmt::print("           {:<22} {:>14.2f} {:>14.2f} {:>16.2f} {:>12.2f} {:>16.2f}   (+: {})\n",
               label(python), median(without), median(with),
               median(added), median(read), floor, [&] {
                 std::string runs_text;
                 for (double a : added) runs_text += fmt::format("{}{:.1f}", runs_text.empty() ? "" : " ", a);
                 return runs_text;
               }());
  }
}

void bench_staleness(const std::string& python, double seconds, int runs) {
  std::vector<double> shares[2];
  for (int r = 0; r < runs; ++r) {
    for (bool wake : {true, false}) {
      InProcess on = record({python, kDir + "/switcher.py", fmt::format("{}", seconds)}, 999, true, wake);
      const auto& p = on.stats;
      const uint64_t n = python_samples(p);
      const uint64_t stale = p.python_stale_fewer + p.python_stale_more;
      if (n) shares[wake].push_back(100.0 * static_cast<double>(stale) / static_cast<double>(n));
      fmt::print("  run {}, {}: {} of {} Python samples ({:.2f}%) disagreed with their native stack ({} fewer, {} more "
                 "Python calls); merged {}, not in Python {}, missed {}\n",
                 r + 1, wake_name(wake), stale, n, n ? shares[wake].back() : 0.0, p.python_stale_fewer, p.python_stale_more,
                 p.python_merged + p.python_merged_below_cut, p.python_not_in_python, p.python_read_missed);
    }
  }
  for (bool wake : {true, false}) {
    fmt::print("staleness  {}: {:.2f}% of Python samples disagreed with their native stack (median of {}, "
               "range {:.2f}% .. {:.2f}%)\n",
               wake_name(wake), median(shares[wake]), shares[wake].size(),
               shares[wake].empty() ? 0.0 : *std::min_element(shares[wake].begin(), shares[wake].end()),
               shares[wake].empty() ? 0.0 : *std::max_element(shares[wake].begin(), shares[wake].end()));
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
