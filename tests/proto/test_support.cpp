#include "test_support.h"

#include "tests/support/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "profile/builder.h"
#include "profile/folded.h"

extern char** environ;

namespace ember::proto::test {

using namespace ember::profile;

namespace {

constexpr int64_t kPeriodNs = 10'101'010;  // 99 Hz

std::vector<Label> thread_labels(ProfileBuilder& b, int64_t pid, int64_t tid,
                                 std::string_view comm, std::string_view thread) {
  return {Label{b.intern(kLabelPid), {}, pid, {}}, Label{b.intern(kLabelTid), {}, tid, {}},
          Label{b.intern(kLabelComm), b.intern(comm), 0, {}},
          Label{b.intern(kLabelThreadComm), b.intern(thread), 0, {}}};
}

}  // namespace

Profile make_rich_profile() {
  ProfileBuilder b;
  const std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                                  {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  {
    Profile& p = b.profile();
    p.default_sample_type = b.intern("samples");
    p.period_type = {b.intern("cpu"), b.intern("nanoseconds")};
    p.period = kPeriodNs;
    p.time_nanos = 1'700'000'000'123'456'789;
    p.duration_nanos = 30'000'000'000;
    p.comments = {b.intern("recorded by ember 0.1.0"), b.intern("command: ./bench --quick")};
    p.doc_url = b.intern("https://example.org/ember/docs/cpu-profile.html");
  }

  Mapping app{.memory_start = 0,
              .memory_limit = 0x20000,
              .file_offset = 0,
              .filename = b.intern("/usr/bin/app"),
              .build_id = b.intern("4f1c2d3e5a6b7c8d9e0f11223344556677889900"),
              .kind = MappingKind::kFile,
              .has_functions = true,
              .has_filenames = true,
              .has_line_numbers = true,
              .has_inline_frames = true};
  Mapping libc{.memory_start = 0,
               .memory_limit = 0x1d0000,
               .file_offset = 0,
               .filename = b.intern("/usr/lib/x86_64-linux-gnu/libc.so.6"),
               .build_id = b.intern("8b0f9d3d1f1ef6d7c3b0e3a3a9f2c5d1e2f30405"),
               .kind = MappingKind::kFile,
               .has_functions = true};
  Mapping kernel{.memory_start = 0,
                 .memory_limit = 0,
                 .file_offset = 0,
                 .filename = b.intern("[kernel.kallsyms]"),
                 .build_id = {},
                 .kind = MappingKind::kKernel,
                 .has_functions = true};
  Mapping blob{.memory_start = 0,
               .memory_limit = 0x40000,
               .file_offset = 0,
               .filename = b.intern("/opt/vendor/libblob.so.1"),
               .build_id = b.intern("00112233445566778899aabbccddeeff00112233")};
  MappingId m_app = b.add_mapping(app);
  MappingId m_libc = b.add_mapping(libc);
  MappingId m_kernel = b.add_mapping(kernel);
  MappingId m_blob = b.add_mapping(blob);

  FunctionId f_main = b.add_function("main", "main", "/src/app/main.cc", 12);
  FunctionId f_alpha = b.add_function("compute_alpha(int)", "_Z13compute_alphai",
                                      "/src/app/compute.cc", 30);
  FunctionId f_beta = b.add_function("compute_beta(std::vector<int, std::allocator<int> >&)",
                                     "_Z12compute_betaRSt6vectorIiSaIiEE", "/src/app/compute.cc", 55);
  FunctionId f_push = b.add_function("std::vector<int, std::allocator<int> >::push_back(int const&)",
                                     "_ZNSt6vectorIiSaIiEE9push_backERKi",
                                     "/usr/include/c++/12/bits/stl_vector.h", 1276);
  FunctionId f_memmove = b.add_function("__memmove_avx_unaligned_erms",
                                        "__memmove_avx_unaligned_erms", "", 0);
  FunctionId f_write = b.add_function("write", "__GI___libc_write", "", 0);
  FunctionId k_entry = b.add_function("entry_SYSCALL_64_after_hwframe",
                                      "entry_SYSCALL_64_after_hwframe", "", 0);
  FunctionId k_sys = b.add_function("__x64_sys_write", "__x64_sys_write", "", 0);
  FunctionId k_vfs = b.add_function("vfs_write", "vfs_write", "", 0);
  FunctionId f_jit = b.add_function("LazyCompile:*handler /srv/app.js:4", "", "/srv/app.js", 4);

  auto loc = [&](MappingId m, uint64_t address, std::initializer_list<Line> lines) {
    return b.add_location(m, address, std::span<const Line>(lines.begin(), lines.size()));
  };
  LocationId l_main = loc(m_app, 0x1180, {{f_main, 25, 5}});
  LocationId l_alpha = loc(m_app, 0x1234, {{f_alpha, 33, 9}});
  LocationId l_beta_inline = loc(m_app, 0x1300, {{f_push, 1287, 0}, {f_beta, 60, 7}});
  LocationId l_beta = loc(m_app, 0x1340, {{f_beta, 62, 3}});
  LocationId l_memmove = loc(m_libc, 0x19a3c0, {{f_memmove, 0, 0}});
  LocationId l_write = loc(m_libc, 0x114a20, {{f_write, 0, 0}});
  LocationId l_entry = loc(m_kernel, 0xffffffff82000090, {{k_entry, 0, 0}});
  LocationId l_sys = loc(m_kernel, 0xffffffff8135e2b0, {{k_sys, 0, 0}});
  LocationId l_vfs = loc(m_kernel, 0xffffffff8135d8f5, {{k_vfs, 0, 0}});
  LocationId l_blob = loc(m_blob, 0x15a20, {});
  LocationId l_jit = loc(MappingId{}, 0x7f00dead0040, {{f_jit, 0, 0}});
  b.profile().locations[l_memmove.value].is_folded = true;

  auto main_thread = thread_labels(b, 4242, 4242, "app", "app");
  auto worker = thread_labels(b, 4242, 4243, "app", "worker-1");
  auto with_bytes = main_thread;
  with_bytes.push_back(Label{b.intern("request_bytes"), {}, 512, b.intern("bytes")});

  auto add = [&](std::initializer_list<LocationId> stack, int64_t count,
                 const std::vector<Label>& labels) {
    int64_t values[] = {count, count * kPeriodNs};
    b.add_sample(std::span<const LocationId>(stack.begin(), stack.size()), values, labels);
  };
  add({l_alpha, l_main}, 70, main_thread);
  add({l_beta_inline, l_main}, 30, worker);
  add({l_memmove, l_beta, l_main}, 12, worker);
  add({l_vfs, l_sys, l_entry, l_write, l_main}, 8, with_bytes);
  add({l_blob, l_alpha, l_main}, 5, main_thread);
  add({l_jit, l_main}, 3, worker);
  add({l_alpha, l_main}, 2, worker);
  return std::move(b).finish();
}

Profile make_python_profile() {
  ProfileBuilder b;
  const std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                                  {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  b.profile().period_type = {b.intern("cpu"), b.intern("nanoseconds")};
  b.profile().period = kPeriodNs;
  Mapping exe{.memory_start = 0,
              .memory_limit = 0x700000,
              .file_offset = 0,
              .filename = b.intern("/usr/bin/python3.11"),
              .build_id = b.intern("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
              .kind = MappingKind::kFile,
              .has_functions = true};
  Mapping zlib{.memory_start = 0,
               .memory_limit = 0x20000,
               .file_offset = 0,
               .filename = b.intern("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"),
               .build_id = b.intern("1a1b2c3d4e5f60718293a4b5c6d7e8f901234567"),
               .kind = MappingKind::kFile,
               .has_functions = true};
  Mapping python{.memory_start = 0,
                 .memory_limit = UINT64_MAX,
                 .file_offset = 0,
                 .filename = b.intern(kPythonMappingName),
                 .build_id = {},
                 .kind = MappingKind::kPython,
                 .has_functions = true,
                 .has_filenames = true,
                 .has_line_numbers = true};
  MappingId m_exe = b.add_mapping(exe);
  MappingId m_zlib = b.add_mapping(zlib);
  MappingId m_py = b.add_mapping(python);
  FunctionId f_start = b.add_function("_start", "_start", "");
  FunctionId f_eval_code = b.add_function("PyEval_EvalCode", "PyEval_EvalCode", "");
  FunctionId f_compress = b.add_function("zlib_compress_impl", "zlib_compress_impl", "");
  FunctionId f_deflate = b.add_function("deflate", "deflate", "");
  FunctionId f_module = b.add_function("<module>", "<module>", "/srv/app/app.py", 1);
  FunctionId f_main = b.add_function("main", "main", "/srv/app/app.py", 10);
  FunctionId f_handle = b.add_function("Server.handle", "Server.handle", "/srv/app/app.py", 38);
  FunctionId f_hot = b.add_function("hot", "hot", "/srv/app/lib/hot.py", 3);
  auto loc = [&](MappingId m, uint64_t address, FunctionId f, int64_t line) {
    const Line lines[] = {{f, line, 0}};
    return b.add_location(m, address, lines);
  };
  LocationId l_start = loc(m_exe, 0x1000, f_start, 0);
  LocationId l_eval_code = loc(m_exe, 0x2000, f_eval_code, 0);
  LocationId l_compress = loc(m_exe, 0x3000, f_compress, 0);
  LocationId l_deflate = loc(m_zlib, 0x400, f_deflate, 0);
  LocationId l_module = loc(m_py, 0, f_module, 50);
  LocationId l_main = loc(m_py, 1, f_main, 12);
  LocationId l_handle40 = loc(m_py, 2, f_handle, 40);
  LocationId l_handle44 = loc(m_py, 3, f_handle, 44);
  LocationId l_hot = loc(m_py, 4, f_hot, 5);
  auto labels = thread_labels(b, 777, 777, "python3", "python3");
  auto add = [&](std::initializer_list<LocationId> stack, int64_t count) {
    int64_t values[] = {count, count * kPeriodNs};
    b.add_sample(std::span<const LocationId>(stack.begin(), stack.size()), values, labels);
  };
  add({l_deflate, l_compress, l_handle40, l_main, l_module, l_eval_code, l_start}, 30);
  add({l_hot, l_handle44, l_main, l_module, l_eval_code, l_start}, 70);
  return std::move(b).finish();
}

Profile make_recording(size_t stacks, size_t depth, size_t threads, size_t samples) {
  ProfileBuilder b;
  const std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                                  {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  b.profile().period_type = {b.intern("cpu"), b.intern("nanoseconds")};
  b.profile().period = kPeriodNs;
  b.profile().time_nanos = 1'700'000'000'000'000'000;
  b.profile().duration_nanos = 30'000'000'000;

  std::mt19937_64 rng(20240601);
  Mapping app{.memory_limit = 0x400000, .filename = b.intern("/usr/local/bin/server"),
              .build_id = b.intern("3c9a4e2f8d1b7a6c5e4f3a2b1c0d9e8f7a6b5c4d"),
              .has_functions = true, .has_filenames = true, .has_line_numbers = true,
              .has_inline_frames = true};
  Mapping libc{.memory_limit = 0x1d0000, .filename = b.intern("/usr/lib/x86_64-linux-gnu/libc.so.6"),
               .build_id = b.intern("8b0f9d3d1f1ef6d7c3b0e3a3a9f2c5d1e2f30405"),
               .has_functions = true};
  Mapping kernel{.filename = b.intern("[kernel.kallsyms]"), .kind = MappingKind::kKernel,
                 .has_functions = true};
  MappingId m_app = b.add_mapping(app);
  MappingId m_libc = b.add_mapping(libc);
  MappingId m_kernel = b.add_mapping(kernel);

  // A pool of C++-looking functions, as a real server's symbols would be.
  constexpr size_t kFunctions = 300;
  std::vector<FunctionId> functions;
  for (size_t i = 0; i < kFunctions; ++i) {
    std::string name = fmt::format("server::module{}::Handler{}::process_{}(Request const&, int)",
                                   i % 17, i % 41, i);
    std::string mangled = fmt::format("_ZN6server7module{}8Handler{}9process_{}ERK7Requesti",
                                      i % 17, i % 41, i);
    functions.push_back(b.add_function(name, mangled, fmt::format("/src/server/module{}.cc", i % 17),
                                       static_cast<int64_t>(10 + i * 7)));
  }
  FunctionId f_main = b.add_function("main", "main", "/src/server/main.cc", 5);
  std::vector<FunctionId> kernel_functions = {
      b.add_function("entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64_after_hwframe", "", 0),
      b.add_function("do_syscall_64", "do_syscall_64", "", 0),
      b.add_function("__x64_sys_read", "__x64_sys_read", "", 0),
      b.add_function("ksys_read", "ksys_read", "", 0)};
  FunctionId f_read = b.add_function("read", "__GI___libc_read", "", 0);

  std::vector<std::vector<LocationId>> stack_locations;
  for (size_t s = 0; s < stacks; ++s) {
    std::vector<LocationId> leaf_first;
    bool syscall = s % 5 == 0;  // every fifth stack ends in the kernel
    if (syscall) {
      for (size_t k = kernel_functions.size(); k-- > 0;) {
        Line line{kernel_functions[k], 0, 0};
        leaf_first.push_back(b.add_location(m_kernel, 0xffffffff81000000 + k * 0x1000 + s,
                                            std::span(&line, 1)));
      }
      Line line{f_read, 0, 0};
      leaf_first.push_back(b.add_location(m_libc, 0x114980, std::span(&line, 1)));
    }
    while (leaf_first.size() + 1 < depth) {
      FunctionId f = functions[rng() % kFunctions];
      Line line{f, static_cast<int64_t>(20 + rng() % 500), 0};
      leaf_first.push_back(b.add_location(m_app, 0x10000 + (rng() % 0x300000), std::span(&line, 1)));
    }
    Line line{f_main, 42, 0};
    leaf_first.push_back(b.add_location(m_app, 0x1180, std::span(&line, 1)));
    stack_locations.push_back(std::move(leaf_first));
  }

  std::vector<std::vector<Label>> thread_sets;
  for (size_t t = 0; t < threads; ++t) {
    thread_sets.push_back(thread_labels(b, 31337, static_cast<int64_t>(31337 + t), "server",
                                        t == 0 ? std::string("server") : fmt::format("worker-{}", t)));
  }
  // Skewed like real profiles: a few stacks take most samples (weights 1/(rank+1)).
  std::vector<double> weights;
  for (size_t s = 0; s < stacks * threads; ++s) weights.push_back(1.0 / static_cast<double>(s + 1));
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  for (size_t i = 0; i < samples; ++i) {
    size_t which = pick(rng);
    int64_t values[] = {1, kPeriodNs};
    b.add_sample(stack_locations[which % stacks], values, thread_sets[which / stacks]);
  }
  return std::move(b).finish();
}

void Wire::put(uint64_t v) {
  while (v >= 0x80) {
    bytes_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  bytes_.push_back(static_cast<char>(v));
}

Wire& Wire::varint(uint32_t field, uint64_t value) {
  put((uint64_t{field} << 3) | 0);
  put(value);
  return *this;
}

Wire& Wire::fixed64(uint32_t field, uint64_t value) {
  put((uint64_t{field} << 3) | 1);
  for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
  return *this;
}

Wire& Wire::fixed32(uint32_t field, uint32_t value) {
  put((uint64_t{field} << 3) | 5);
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<char>(value >> (8 * i)));
  return *this;
}

Wire& Wire::bytes(uint32_t field, std::string_view payload) {
  put((uint64_t{field} << 3) | 2);
  put(payload.size());
  bytes_ += payload;
  return *this;
}

Wire& Wire::packed(uint32_t field, std::initializer_list<uint64_t> values) {
  Wire payload;
  for (uint64_t v : values) payload.put(v);
  return bytes(field, payload.bytes_);
}

Wire& Wire::raw(std::string_view data) {
  bytes_ += data;
  return *this;
}

std::string minimal_profile(const Wire& extra) {
  Wire w;
  w.message(1, Wire().varint(1, 1).varint(2, 2));
  w.message(2, Wire().packed(1, {1}).packed(2, {5}));
  w.message(4, Wire().varint(1, 1).message(4, Wire().varint(1, 1).varint(2, 10)));
  w.message(5, Wire().varint(1, 1).varint(2, 3).varint(3, 3).varint(4, 4));
  for (std::string_view s : {"", "samples", "count", "main", "main.go"}) w.bytes(6, s);
  w.raw(extra.str());
  return w.str();
}

namespace {

class Differ {
 public:
  Differ(const Profile& a, const Profile& b) : a_(a), b_(b) {}

  template <class T>
  void eq(const std::string& what, const T& x, const T& y) {
    if (!(x == y)) out_ << what << ": " << fmt::format("{}", x) << " != " << fmt::format("{}", y) << "\n";
  }
  void str(const std::string& what, StringId x, StringId y) {
    eq(what, std::string(a_.str(x)), std::string(b_.str(y)));
  }
  std::string run() {
    eq("sample_types", a_.sample_types.size(), b_.sample_types.size());
    for (size_t i = 0; i < std::min(a_.sample_types.size(), b_.sample_types.size()); ++i) {
      str(fmt::format("sample_type {} type", i), a_.sample_types[i].type, b_.sample_types[i].type);
      str(fmt::format("sample_type {} unit", i), a_.sample_types[i].unit, b_.sample_types[i].unit);
    }
    str("period_type type", a_.period_type.type, b_.period_type.type);
    str("period_type unit", a_.period_type.unit, b_.period_type.unit);
    eq("period", a_.period, b_.period);
    eq("time_nanos", a_.time_nanos, b_.time_nanos);
    eq("duration_nanos", a_.duration_nanos, b_.duration_nanos);
    str("default_sample_type", a_.default_sample_type, b_.default_sample_type);
    str("drop_frames", a_.drop_frames, b_.drop_frames);
    str("keep_frames", a_.keep_frames, b_.keep_frames);
    str("doc_url", a_.doc_url, b_.doc_url);
    eq("comments", a_.comments.size(), b_.comments.size());
    for (size_t i = 0; i < std::min(a_.comments.size(), b_.comments.size()); ++i) {
      str(fmt::format("comment {}", i), a_.comments[i], b_.comments[i]);
    }
    eq("mappings", a_.mappings.size(), b_.mappings.size());
    for (size_t i = 0; i < std::min(a_.mappings.size(), b_.mappings.size()); ++i) {
      const Mapping& x = a_.mappings[i];
      const Mapping& y = b_.mappings[i];
      std::string m = fmt::format("mapping {} ", i);
      eq(m + "memory_start", x.memory_start, y.memory_start);
      eq(m + "memory_limit", x.memory_limit, y.memory_limit);
      eq(m + "file_offset", x.file_offset, y.file_offset);
      str(m + "filename", x.filename, y.filename);
      str(m + "build_id", x.build_id, y.build_id);
      eq(m + "kind", static_cast<int>(x.kind), static_cast<int>(y.kind));
      eq(m + "has_functions", x.has_functions, y.has_functions);
      eq(m + "has_filenames", x.has_filenames, y.has_filenames);
      eq(m + "has_line_numbers", x.has_line_numbers, y.has_line_numbers);
      eq(m + "has_inline_frames", x.has_inline_frames, y.has_inline_frames);
    }
    eq("functions", a_.functions.size(), b_.functions.size());
    for (size_t i = 0; i < std::min(a_.functions.size(), b_.functions.size()); ++i) {
      const Function& x = a_.functions[i];
      const Function& y = b_.functions[i];
      std::string f = fmt::format("function {} ", i);
      str(f + "name", x.name, y.name);
      str(f + "system_name", x.system_name, y.system_name);
      str(f + "filename", x.filename, y.filename);
      eq(f + "start_line", x.start_line, y.start_line);
    }
    eq("locations", a_.locations.size(), b_.locations.size());
    for (size_t i = 0; i < std::min(a_.locations.size(), b_.locations.size()); ++i) {
      const Location& x = a_.locations[i];
      const Location& y = b_.locations[i];
      std::string l = fmt::format("location {} ", i);
      eq(l + "mapping", x.mapping.value, y.mapping.value);
      eq(l + "address", x.address, y.address);
      eq(l + "is_folded", x.is_folded, y.is_folded);
      eq(l + "lines", x.lines.size(), y.lines.size());
      for (size_t k = 0; k < std::min(x.lines.size(), y.lines.size()); ++k) {
        eq(l + fmt::format("line {} function", k), x.lines[k].function.value, y.lines[k].function.value);
        eq(l + fmt::format("line {} line", k), x.lines[k].line, y.lines[k].line);
        eq(l + fmt::format("line {} column", k), x.lines[k].column, y.lines[k].column);
      }
    }
    eq("samples", a_.samples.size(), b_.samples.size());
    for (size_t i = 0; i < std::min(a_.samples.size(), b_.samples.size()); ++i) {
      const Sample& x = a_.samples[i];
      const Sample& y = b_.samples[i];
      std::string s = fmt::format("sample {} ", i);
      std::vector<uint32_t> xl, yl;
      for (LocationId id : x.locations) xl.push_back(id.value);
      for (LocationId id : y.locations) yl.push_back(id.value);
      eq(s + "locations", fmt::format("{}", fmt::join(xl, ",")), fmt::format("{}", fmt::join(yl, ",")));
      eq(s + "values", fmt::format("{}", fmt::join(x.values, ",")), fmt::format("{}", fmt::join(y.values, ",")));
      eq(s + "labels", x.labels.size(), y.labels.size());
      for (size_t k = 0; k < std::min(x.labels.size(), y.labels.size()); ++k) {
        std::string lb = s + fmt::format("label {} ", k);
        str(lb + "key", x.labels[k].key, y.labels[k].key);
        str(lb + "str", x.labels[k].str, y.labels[k].str);
        eq(lb + "num", x.labels[k].num, y.labels[k].num);
        str(lb + "num_unit", x.labels[k].num_unit, y.labels[k].num_unit);
      }
    }
    return out_.str();
  }

 private:
  const Profile& a_;
  const Profile& b_;
  std::ostringstream out_;
};

}  // namespace

std::string differences(const Profile& a, const Profile& b) { return Differ(a, b).run(); }

std::string folded(const Profile& p, std::optional<size_t> value_index) {
  FoldOptions options;
  options.value_index = value_index;
  return format_folded(fold(p, options));
}

std::vector<std::string> pprof_frames(const Profile& p, const Sample& s) {
  std::vector<std::string> frames;
  for (LocationId id : s.locations) {
    const Location& loc = p.location(id);
    if (loc.lines.empty()) {
      std::string_view file = loc.mapping.valid() ? p.str(p.mapping(loc.mapping).filename) : "";
      file = file.substr(file.rfind('/') == std::string_view::npos ? 0 : file.rfind('/') + 1);
      frames.push_back(file.empty() ? fmt::format("{:#x}", loc.address) : fmt::format("[{}]", file));
      continue;
    }
    for (size_t k = 0; k < loc.lines.size(); ++k) {
      const Function& f = p.function(loc.lines[k].function);
      std::string name(p.str(f.name).empty() ? p.str(f.system_name) : p.str(f.name));
      frames.push_back(k + 1 < loc.lines.size() ? name + " (inline)" : name);
    }
  }
  return frames;
}

std::map<std::string, FlatCum> flat_cum(const Profile& p, size_t value_index) {
  std::map<std::string, FlatCum> out;
  for (const Sample& s : p.samples) {
    int64_t v = s.values.at(value_index);
    std::vector<std::string> frames = pprof_frames(p, s);
    if (frames.empty()) continue;
    out[frames.front()].flat += v;
    std::set<std::string> seen(frames.begin(), frames.end());
    for (const std::string& name : seen) out[name].cum += v;
  }
  return out;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  // env(1) adds the variables and looks the program up in PATH.
  std::vector<std::string> command = {"/usr/bin/env"};
  command.insert(command.end(), env.begin(), env.end());
  command.insert(command.end(), argv.begin(), argv.end());
  ember::testing::RunResult r = ember::testing::run(command, {}, std::chrono::seconds(600));
  return CommandResult{r.exit_code, std::move(r.out), std::move(r.err)};
}

void write_file(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ember::proto::test
