// How big ember's pprof files are and how fast they are written and read, for profiles shaped
// like ember's recordings: unique stacks of some depth over a few threads, samples aggregated
// per (stack, thread), two values (samples/count, cpu/nanoseconds) and pid/tid/comm labels.
//
//   proto_bench            the standard table (about ten seconds on one core)

#include <fmt/format.h>

#include <time.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "profile/builder.h"
#include "proto/gzip.h"
#include "proto/pprof.h"

namespace {

using namespace ember;
using namespace ember::profile;

constexpr int64_t kPeriodNs = 10'101'010;  // 99 Hz

struct Shape {
  const char* name;
  size_t stacks;
  size_t depth;
  size_t threads;
  size_t samples;
};

// Function names, files and lines like those of a C++ server; one mapping for the program, one
// for libc, the kernel for every fifth stack's leaf frames.
Profile make_profile(const Shape& shape) {
  ProfileBuilder b;
  const std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                                  {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  Profile& p = b.profile();
  p.default_sample_type = b.intern("samples");
  p.period_type = {b.intern("cpu"), b.intern("nanoseconds")};
  p.period = kPeriodNs;
  p.time_nanos = 1'700'000'000'000'000'000;
  p.duration_nanos = 30'000'000'000;

  std::mt19937_64 rng(7);
  MappingId app = b.add_mapping(Mapping{.memory_limit = 0x400000,
                                        .filename = b.intern("/usr/local/bin/server"),
                                        .build_id = b.intern("3c9a4e2f8d1b7a6c5e4f3a2b1c0d9e8f7a6b5c4d"),
                                        .has_functions = true,
                                        .has_filenames = true,
                                        .has_line_numbers = true,
                                        .has_inline_frames = true});
  MappingId libc = b.add_mapping(Mapping{.memory_limit = 0x1d0000,
                                         .filename = b.intern("/usr/lib/x86_64-linux-gnu/libc.so.6"),
                                         .build_id = b.intern("8b0f9d3d1f1ef6d7c3b0e3a3a9f2c5d1e2f30405"),
                                         .has_functions = true});
  MappingId kernel = b.add_mapping(Mapping{.filename = b.intern("[kernel.kallsyms]"),
                                           .kind = MappingKind::kKernel,
                                           .has_functions = true});
  size_t function_count = std::max<size_t>(64, shape.stacks * shape.depth / 4);
  std::vector<FunctionId> functions;
  for (size_t i = 0; i < function_count; ++i) {
    functions.push_back(b.add_function(
        fmt::format("server::module{}::Handler{}::process_{}(Request const&, int)", i % 17, i % 41, i),
        fmt::format("_ZN6server7module{}8Handler{}9process_{}ERK7Requesti", i % 17, i % 41, i),
        fmt::format("/src/server/module{}.cc", i % 17), static_cast<int64_t>(10 + i * 7)));
  }
  FunctionId f_main = b.add_function("main", "main", "/src/server/main.cc", 5);
  FunctionId f_read = b.add_function("read", "__GI___libc_read", "", 0);
  std::vector<FunctionId> kernel_functions = {
      b.add_function("entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64_after_hwframe", "", 0),
      b.add_function("do_syscall_64", "do_syscall_64", "", 0),
      b.add_function("ksys_read", "ksys_read", "", 0)};

  std::vector<std::vector<LocationId>> stacks;
  for (size_t s = 0; s < shape.stacks; ++s) {
    std::vector<LocationId> leaf_first;
    if (s % 5 == 0) {
      for (size_t k = kernel_functions.size(); k-- > 0;) {
        Line line{kernel_functions[k], 0, 0};
        leaf_first.push_back(b.add_location(kernel, 0xffffffff81000000 + k * 0x1000 + s * 8,
                                            std::span(&line, 1)));
      }
      Line line{f_read, 0, 0};
      leaf_first.push_back(b.add_location(libc, 0x114980, std::span(&line, 1)));
    }
    while (leaf_first.size() + 1 < shape.depth) {
      Line line{functions[rng() % functions.size()], static_cast<int64_t>(20 + rng() % 500), 0};
      leaf_first.push_back(b.add_location(app, 0x10000 + rng() % 0x300000, std::span(&line, 1)));
    }
    Line line{f_main, 42, 0};
    leaf_first.push_back(b.add_location(app, 0x1180, std::span(&line, 1)));
    stacks.push_back(std::move(leaf_first));
  }
  std::vector<std::vector<Label>> threads;
  for (size_t t = 0; t < shape.threads; ++t) {
    threads.push_back({Label{b.intern("pid"), {}, 31337, {}},
                       Label{b.intern("tid"), {}, static_cast<int64_t>(31337 + t), {}},
                       Label{b.intern("comm"), b.intern("server"), 0, {}},
                       Label{b.intern("thread_comm"), b.intern(fmt::format("worker-{}", t)), 0, {}}});
  }
  // Skewed like real profiles: the k-th most frequent (stack, thread) has weight 1/k.
  std::vector<double> weights;
  for (size_t i = 0; i < shape.stacks * shape.threads; ++i) weights.push_back(1.0 / double(i + 1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  for (size_t i = 0; i < shape.samples; ++i) {
    size_t which = pick(rng);
    const int64_t values[] = {1, kPeriodNs};
    b.add_sample(stacks[which % shape.stacks], values, threads[which / shape.stacks]);
  }
  return std::move(b).finish();
}

// Process CPU time, not wall time: the machines ember is built on are shared, and CPU time
// is what a busy neighbour does not inflate.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Mean CPU seconds per call of fn, over at least `min_seconds` and 3 calls.
template <class Fn>
double time_per_call(Fn&& fn, double min_seconds = 0.4) {
  size_t calls = 0;
  double start = cpu_seconds();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = cpu_seconds() - start;
  } while (elapsed < min_seconds || calls < 3);
  return elapsed / static_cast<double>(calls);
}

template <class T>
T must(Result<T> r) {
  if (!r) {
    std::fprintf(stderr, "proto_bench: %s\n", r.error().message().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

}  // namespace

int main() {
  const Shape shapes[] = {
      {"recording 30 s, 4 threads", 50, 20, 4, 12'000},
      {"same stacks, 1k samples", 50, 20, 4, 1'000},
      {"same stacks, 100k samples", 50, 20, 4, 100'000},
      {"daemon window, wide", 5'000, 30, 16, 500'000},
  };
  fmt::print("ember pprof encoding (gzip level {}), per profile shape; times are CPU time per call\n"
             "(encode: model to gzip'd file; decode: gzip'd file to model; MB/s of raw protobuf):\n\n",
             proto::kGzipLevel);
  fmt::print("{:<28} {:>8} {:>8} {:>6} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}\n", "shape", "samples",
             "unique", "locs", "raw B", "gzip B", "B/1k smp", "encode ms", "decode ms", "dec MB/s");
  for (const Shape& shape : shapes) {
    Profile p = make_profile(shape);
    std::string raw = must(proto::encode(p, proto::Compression::kNone));
    std::string gz = must(proto::encode(p));
    double encode_s = time_per_call([&] { must(proto::encode(p)); });
    double decode_s = time_per_call([&] { must(proto::decode(gz, "bench.pb.gz")); });
    fmt::print("{:<28} {:>8} {:>8} {:>6} {:>9} {:>9} {:>9.0f} {:>10.2f} {:>10.2f} {:>10.0f}\n",
               shape.name, shape.samples, p.samples.size(), p.locations.size(), raw.size(),
               gz.size(), 1000.0 * double(gz.size()) / double(shape.samples), encode_s * 1e3,
               decode_s * 1e3, double(raw.size()) / decode_s / 1e6);
  }

  fmt::print("\nwithout gzip, and gzip levels (shape: {}):\n\n", shapes[0].name);
  for (const Shape& shape : {shapes[0], shapes[3]}) {
    Profile p = make_profile(shape);
    std::string raw = must(proto::encode(p, proto::Compression::kNone));
    double raw_encode_s = time_per_call([&] { must(proto::encode(p, proto::Compression::kNone)); });
    double raw_decode_s = time_per_call([&] { must(proto::decode(raw, "bench.pb")); });
    fmt::print("{}: raw {} B, encode {:.2f} ms, decode {:.2f} ms ({:.0f} MB/s)\n", shape.name,
               raw.size(), raw_encode_s * 1e3, raw_decode_s * 1e3,
               double(raw.size()) / raw_decode_s / 1e6);
    for (int level : {1, 6, 9}) {
      std::string gz = must(proto::gzip_compress(raw, level));
      double gzip_s = time_per_call([&] { must(proto::gzip_compress(raw, level)); });
      double gunzip_s = time_per_call([&] { must(proto::gzip_decompress(gz, size_t{1} << 30)); });
      fmt::print("  level {}: {:>9} B ({:4.1f}% of raw), compress {:7.2f} ms, decompress {:6.2f} ms\n",
                 level, gz.size(), 100.0 * double(gz.size()) / double(raw.size()), gzip_s * 1e3,
                 gunzip_s * 1e3);
    }
  }
  return 0;
}
