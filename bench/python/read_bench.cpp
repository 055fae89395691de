// ember_python_read_bench: CPU time of one ProcessReader::read_stack() of a thread 30 Python
// frames deep, per installed CPython 3.8–3.13, with warm caches (the steady state of a
// recording) and cold ones (the first sample of a process), next to the floor the kernel sets:
// one raw process_vm_readv of the same number of bytes, and as many raw calls as the reader
// makes. py-spy, the peer tool, is not packaged for Debian and cannot be installed here.
//
//   ember_python_read_bench [--reads N] [--cold-rounds N] [--busy] [--python PATH]...
//
// Figures go to docs/benchmarks.md; nothing is asserted.

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "pythons.h"
#include "python/process_reader.h"

namespace {

using ember::bench::installed_pythons;
using ember::bench::raw_read_us;
using ember::bench::thread_cpu_us;
using ember::python::Frame;
using ember::python::ProcessReader;
using ember::python::ReadStatus;

struct Target {
  pid_t pid = -1;
  int32_t tid = 0;
  ~Target() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

std::optional<int32_t> start(Target& t, const std::string& python, bool busy) {
  int out[2];
  if (::pipe(out) != 0) return std::nullopt;
  t.pid = ::fork();
  if (t.pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string script = std::string(EMBER_PYTHON_BENCH_DIR) + "/read_target.py";
    std::vector<const char*> argv = {python.c_str(), script.c_str()};
    if (busy) argv.push_back("--busy");
    argv.push_back(nullptr);
    ::execv(python.c_str(), const_cast<char* const*>(argv.data()));
    _exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);
  if (!line.starts_with("ready ")) return std::nullopt;
  t.tid = std::atoi(line.c_str() + 6);
  return t.tid;
}

// Waits until the thread's stack is 30 frames deep; returns the reader that saw it.
std::unique_ptr<ProcessReader> attach_when_deep(pid_t pid, int32_t tid) {
  for (int i = 0; i < 500; ++i) {
    auto reader = ProcessReader::attach(pid);
    if (!reader) {
      fmt::print(stderr, "attach: {}\n", reader.error().message());
      return nullptr;
    }
    std::vector<Frame> frames;
    if ((*reader)->read_stack(tid, frames) == ReadStatus::kOk && frames.size() == 30) {
      return std::move(*reader);
    }
    ::usleep(10000);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  int reads = 20000;
  int cold_rounds = 200;
  bool busy = false;
  std::vector<std::string> pythons;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reads" && i + 1 < argc) {
      reads = std::atoi(argv[++i]);
    } else if (a == "--cold-rounds" && i + 1 < argc) {
      cold_rounds = std::atoi(argv[++i]);
    } else if (a == "--busy") {
      busy = true;
    } else if (a == "--python" && i + 1 < argc) {
      pythons.push_back(argv[++i]);
    } else {
      fmt::print(stderr, "ember_python_read_bench: unknown option '{}'\n", a);
      return 2;
    }
  }
  if (reads <= 0 || cold_rounds <= 0) {
    fmt::print(stderr, "ember_python_read_bench: --reads and --cold-rounds must be positive\n");
    return 2;
  }
  if (pythons.empty()) pythons = installed_pythons();

  fmt::print("read_stack of a thread 30 Python frames deep ({}), CPU µs per read\n",
             busy ? "spinning" : "sleeping");
  fmt::print("{:<28} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10}\n", "interpreter", "warm", "cold",
             "attach", "raw 1 call", "raw 64 pcs", "raw 32 calls");
  for (const std::string& python : pythons) {
    Target target;
    if (!start(target, python, busy)) {
      fmt::print("{:<28} did not start\n", python);
      continue;
    }
    auto reader = attach_when_deep(target.pid, target.tid);
    if (!reader) {
      fmt::print("{:<28} no 30-frame stack read\n", python);
      continue;
    }
    std::vector<Frame> frames;
    // Warm: the steady state, caches full.
    double start_us = thread_cpu_us();
    int ok = 0;
    for (int i = 0; i < reads; ++i) ok += reader->read_stack(target.tid, frames) == ReadStatus::kOk;
    double warm = (thread_cpu_us() - start_us) / reads;
    // Cold: a fresh reader's first read (attach timed apart).
    double cold_total = 0, attach_total = 0;
    for (int i = 0; i < cold_rounds; ++i) {
      double a = thread_cpu_us();
      auto fresh = ProcessReader::attach(target.pid);
      double b = thread_cpu_us();
      if (!fresh) break;
      (*fresh)->read_stack(target.tid, frames);
      cold_total += thread_cpu_us() - b;
      attach_total += b - a;
    }
    const auto& s = reader->stats();
    double raw_one = raw_read_us(target.pid, 1, 1, 30 * 256, 2000);
    double raw_pieces = raw_read_us(target.pid, 1, 64, 128, 2000);
    double raw_many = raw_read_us(target.pid, 32, 1, 256, 200);
    fmt::print("{:<28} {:>8.2f} {:>8.1f} {:>8.0f} {:>10.2f} {:>10.2f} {:>10.2f}   ({} ok of {}, {} misses)\n",
               fmt::format("{} {}", to_string(reader->version()), python.substr(0, 14)), warm,
               cold_total / cold_rounds, attach_total / cold_rounds, raw_one, raw_pieces,
               raw_many, ok, reads, s.misses());
  }
  fmt::print("raw 1 call: one process_vm_readv of 7.5 KiB; raw 64 pcs: one call of 64 pieces of "
             "128 B on 64 pages; raw 32 calls: 32 calls of 256 B\n");
  return 0;
}
