// The DWARF unwinder on samples made by hand: the test captures its own registers and a copy
// of its own stack at a known point (the way the kernel does for PERF_SAMPLE_REGS_USER and
// PERF_SAMPLE_STACK_USER), then unwinds that copy through the accessors. The test binary is
// built without frame pointers (-O2), so every caller found comes from CFI.

#include "collector/dwarf_unwinder.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <span>
#include <vector>

#include "collector/module_cache.h"
#include "collector/process_table.h"
#include "elf/elf_file.h"
#include "fixture_symbols.h"

namespace dwarf_test {

// Registers in perf's order for kX86UserRegsMask: AX BX CX DX SI DI BP SP IP R8..R15.
uint64_t g_regs[17];
alignas(16) std::byte g_stack[65536];
size_t g_copy_limit = sizeof(g_stack);
size_t g_copied = 0;
volatile uint64_t g_sink = 0;

// Copies live stack memory as the kernel does, redzones of sanitizer builds included.
[[gnu::noipa, gnu::no_sanitize_address]] void copy_raw_stack(std::byte* out, const std::byte* from, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<const volatile std::byte*>(from)[i];
}

// Takes the "sample": registers at a point inside this function, then the stack above them.
[[gnu::noipa]] void capture_here() {
  asm volatile(
      "leaq 1f(%%rip), %%rax\n\t"
      "1:\n\t"
      "movq %%rax, 64(%0)\n\t"
      "movq %%rsp, 56(%0)\n\t"
      "movq %%rbp, 48(%0)\n\t"
      "movq %%rbx, 8(%0)\n\t"
      "movq %%r12, 104(%0)\n\t"
      "movq %%r13, 112(%0)\n\t"
      "movq %%r14, 120(%0)\n\t"
      "movq %%r15, 128(%0)\n\t"
      :
      : "r"(g_regs)
      : "rax", "memory");
  pthread_attr_t attr;
  void* low = nullptr;
  size_t size = 0;
  pthread_getattr_np(pthread_self(), &attr);
  pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  const uint64_t top = reinterpret_cast<uint64_t>(low) + size;
  g_copied = std::min<uint64_t>(g_copy_limit, top - g_regs[7]);
  copy_raw_stack(g_stack, reinterpret_cast<const std::byte*>(g_regs[7]), g_copied);
}

[[gnu::noipa]] void chain_c(void (*via)(void (*)())) {
  if (via != nullptr) {
    via(&capture_here);
  } else {
    capture_here();
  }
  g_sink = g_sink + 1;  // keeps the call from being a tail call
}
[[gnu::noipa]] void chain_b(void (*via)(void (*)())) {
  chain_c(via);
  g_sink = g_sink + 1;
}
[[gnu::noipa]] void chain_a(void (*via)(void (*)())) {
  chain_b(via);
  g_sink = g_sink + 1;
}

}  // namespace dwarf_test

namespace ember::collector {
namespace {

struct Self {
  ModuleCache modules{ProcFs(), 64};
  ProcessTable table{ProcFs(), modules, 8};
  Process* process = nullptr;
  test::FixtureSymbols symbols;
  Self() {
    process = table.load(::getpid());
    auto s = test::FixtureSymbols::load("/proc/self/exe");
    EXPECT_TRUE(s.has_value()) << s.error().message();
    if (s) symbols = std::move(*s);
  }
  std::string name(const UnwoundFrame& f) const {
    // Return addresses point after the call: the call itself is one byte earlier.
    const uint64_t a = f.interrupted ? f.address.value() : f.address.value() - 1;
    const Mapping* m = process->find_mapping(common::ProcessAddress(a));
    if (m == nullptr) return "?";
    if (m->module->kind == profile::MappingKind::kJit) return "[jit]";
    if (m->module->path.find("/proc/") == std::string::npos && m->module->kind == profile::MappingKind::kFile) {
      std::string n = symbols.function_at(m->frame_offset(common::ProcessAddress(a)));
      if (!n.empty()) return n;
    }
    return m->module->path;
  }
};

SampleContext make_sample(const Process* process) {
  SampleContext s;
  s.pid = ::getpid();
  s.tid = ::gettid();
  s.process = process;
  s.ip = dwarf_test::g_regs[8];
  s.mode = CpuMode::kUser;
  s.regs_abi = 2;
  s.regs_mask = kX86UserRegsMask;
  s.regs_user = U64View(reinterpret_cast<const std::byte*>(dwarf_test::g_regs), 17);
  s.stack_user = std::span<const std::byte>(dwarf_test::g_stack, dwarf_test::g_copied);
  s.stack_user_dynamic_size = dwarf_test::g_copied;
  return s;
}

std::unique_ptr<DwarfUnwinder> make_unwinder(uint32_t stack_bytes) {
  DwarfUnwinderOptions o;
  o.stack_bytes = stack_bytes;
  auto u = DwarfUnwinder::create(o);
  EXPECT_TRUE(u.has_value()) << u.error().message();
  return u ? std::move(*u) : nullptr;
}

std::vector<std::string> names(const Self& self, const std::vector<UnwoundFrame>& frames) {
  std::vector<std::string> out;
  for (const UnwoundFrame& f : frames) out.push_back(self.name(f));
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& n : v) s += n + "\n";
  return s;
}

TEST(DwarfUnwinder, RejectsStackSizesTheKernelRefuses) {
  DwarfUnwinderOptions o;
  o.stack_bytes = 65536;
  EXPECT_FALSE(DwarfUnwinder::create(o).has_value());
  o.stack_bytes = 1001;
  EXPECT_FALSE(DwarfUnwinder::create(o).has_value());
  o.stack_bytes = 65528;
  auto u = DwarfUnwinder::create(o);
  ASSERT_TRUE(u.has_value());
  PerfSampleNeeds n = (*u)->needs();
  EXPECT_FALSE(n.user_callchain);
  EXPECT_EQ(n.stack_user_bytes, 65528u);
  EXPECT_EQ(n.regs_user_mask, kX86UserRegsMask);
}

TEST(DwarfUnwinder, UnwindsACapturedStackToTheRootThroughEveryCaller) {
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(nullptr);
  Self self;
  ASSERT_NE(self.process, nullptr);
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  std::vector<std::string> n = names(self, frames);
  ASSERT_GE(n.size(), 5u) << joined(n);
  EXPECT_TRUE(frames[0].interrupted);
  EXPECT_FALSE(frames[1].interrupted);
  EXPECT_EQ(n[0], "dwarf_test::capture_here") << joined(n);
  EXPECT_EQ(n[1], "dwarf_test::chain_c") << joined(n);
  EXPECT_EQ(n[2], "dwarf_test::chain_b") << joined(n);
  EXPECT_EQ(n[3], "dwarf_test::chain_a") << joined(n);
  // Through GoogleTest to main, libc's start code and _start, whose CFI ends the stack.
  EXPECT_NE(std::find(n.begin(), n.end(), "main"), n.end()) << joined(n);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(s.dwarf_unwinds, 1u);
  EXPECT_EQ(s.dwarf_to_root, 1u) << joined(n);
  EXPECT_EQ(s.dwarf_frame_pointer_steps, 0u);
  EXPECT_GE(s.unwind_tables_loaded, 2u);  // the test binary and libc at least
}

TEST(DwarfUnwinder, ATruncatedStackCopyStopsAndIsCounted) {
  // 512 bytes hold capture_here's frame and a little more, not the whole chain.
  dwarf_test::g_copy_limit = 512;
  dwarf_test::chain_a(nullptr);
  Self self;
  auto unwinder = make_unwinder(512);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  std::vector<std::string> n = names(self, frames);
  ASSERT_GE(n.size(), 1u);
  EXPECT_EQ(n[0], "dwarf_test::capture_here");
  EXPECT_EQ(std::find(n.begin(), n.end(), "main"), n.end()) << joined(n);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(s.dwarf_stack_end, 1u) << joined(n);
  EXPECT_EQ(s.dwarf_to_root, 0u);
}

TEST(DwarfUnwinder, AStackCopyShorterThanAskedForIsTheWholeStack) {
  // The kernel copies less than asked when the stack ends: a read beyond is bad memory, not
  // "the copy was too small".
  dwarf_test::g_copy_limit = 512;
  dwarf_test::chain_a(nullptr);
  Self self;
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(s.dwarf_stack_end, 0u);
  EXPECT_EQ(s.dwarf_bad_memory, 1u);
}

TEST(DwarfUnwinder, SampleWithoutUserRegistersKeepsTheIp) {
  Self self;
  auto unwinder = make_unwinder(32768);
  SampleContext s;
  s.process = self.process;
  s.ip = 0x401000;
  s.mode = CpuMode::kUser;
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(s, frames);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].address.value(), 0x401000u);
  CollectorStats st;
  unwinder->add_stats(st);
  EXPECT_EQ(st.dwarf_no_registers, 1u);
  EXPECT_EQ(st.dwarf_unwinds, 0u);
}

TEST(DwarfUnwinder, GarbageRegistersEndInACountedStopNotACrash) {
  Self self;
  auto unwinder = make_unwinder(32768);
  std::vector<std::byte> stack(4096);
  for (size_t i = 0; i < stack.size(); ++i) stack[i] = static_cast<std::byte>((i * 7919) & 0xff);
  for (uint64_t ip : {uint64_t{0}, uint64_t{0x10}, reinterpret_cast<uint64_t>(&dwarf_test::chain_b) + 3,
                      ~uint64_t{0} - 7}) {
    uint64_t regs[17] = {};
    regs[8] = ip;
    regs[7] = 0x7ffd00001000;
    regs[6] = 0x7ffd00001010;
    SampleContext s;
    s.process = self.process;
    s.ip = ip;
    s.mode = CpuMode::kUser;
    s.regs_abi = 2;
    s.regs_mask = kX86UserRegsMask;
    s.regs_user = U64View(reinterpret_cast<const std::byte*>(regs), 17);
    s.stack_user = stack;
    s.stack_user_dynamic_size = stack.size();
    std::vector<UnwoundFrame> frames;
    unwinder->unwind_user(s, frames);
    EXPECT_LE(frames.size(), 256u);
  }
  CollectorStats st;
  unwinder->add_stats(st);
  EXPECT_EQ(st.dwarf_unwinds, 4u);
  EXPECT_EQ(st.dwarf_to_root, 0u);
  EXPECT_EQ(st.dwarf_to_root + st.dwarf_stack_end + st.dwarf_no_cfi + st.dwarf_bad_memory +
                st.dwarf_max_depth + st.dwarf_bad_frame,
            4u);
}

// A "JIT" function without any CFI that keeps a frame pointer, as JIT compilers' code does:
//   push %rbp; mov %rsp,%rbp; call *%rdi; pop %rbp; ret
class JitTrampoline {
 public:
  static constexpr unsigned char kFramePointer[] = {0x55, 0x48, 0x89, 0xe5, 0xff, 0xd7, 0x5d, 0xc3};
  // CPython 3.12+'s -X perf trampoline (Python/asm_trampoline.S, x86-64), calling through rdi:
  //   sub $8,%rsp; call *%rdi; add $8,%rsp; ret          no frame pointer, no CFI
  static constexpr unsigned char kPythonPerf[] = {0x48, 0x83, 0xec, 0x08, 0xff, 0xd7,
                                                  0x48, 0x83, 0xc4, 0x08, 0xc3};

  explicit JitTrampoline(std::span<const unsigned char> code = kFramePointer) {
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    std::memcpy(p, code.data(), code.size());
    if (::mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0) return;
    code_ = p;
  }
  ~JitTrampoline() {
    if (code_ != nullptr) ::munmap(code_, 4096);
  }
  using Fn = void (*)(void (*)());
  Fn fn() const { return reinterpret_cast<Fn>(code_); }

 private:
  void* code_ = nullptr;
};

TEST(DwarfUnwinder, FramesWithoutCfiAreUnwoundByTheirFramePointerAndCounted) {
  JitTrampoline jit;
  ASSERT_NE(jit.fn(), nullptr);
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(jit.fn());
  Self self;  // reads /proc/self/maps after the mmap: the trampoline is an anonymous mapping
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  std::vector<std::string> n = names(self, frames);
  ASSERT_GE(n.size(), 5u) << joined(n);
  EXPECT_EQ(n[0], "dwarf_test::capture_here") << joined(n);
  EXPECT_EQ(n[1], "[jit]") << joined(n);
  EXPECT_EQ(n[2], "dwarf_test::chain_c") << joined(n);
  EXPECT_EQ(n[3], "dwarf_test::chain_b") << joined(n);
  EXPECT_NE(std::find(n.begin(), n.end(), "main"), n.end()) << joined(n);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(s.dwarf_frame_pointer_steps, 1u);
  EXPECT_EQ(s.dwarf_to_root, 1u) << joined(n);
}

TEST(DwarfUnwinder, PythonPerfTrampolinesAreSteppedOverAsShims) {
  // The shim keeps no frame pointer: the caller's return address is at [sp + 8], and it lies in
  // the binary the shim called into (here the test binary: chain_c calls it, it calls
  // capture_here).
  JitTrampoline jit(JitTrampoline::kPythonPerf);
  ASSERT_NE(jit.fn(), nullptr);
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(jit.fn());
  Self self;
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  std::vector<std::string> n = names(self, frames);
  ASSERT_GE(n.size(), 5u) << joined(n);
  EXPECT_EQ(n[0], "dwarf_test::capture_here") << joined(n);
  EXPECT_EQ(n[1], "[jit]") << joined(n);
  EXPECT_EQ(n[2], "dwarf_test::chain_c") << joined(n);
  EXPECT_EQ(n[3], "dwarf_test::chain_b") << joined(n);
  EXPECT_NE(std::find(n.begin(), n.end(), "main"), n.end()) << joined(n);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(s.dwarf_shim_steps, 1u);
  EXPECT_EQ(s.dwarf_frame_pointer_steps, 0u);
  EXPECT_EQ(s.dwarf_to_root, 1u) << joined(n);
  EXPECT_TRUE(unwinder->last_reached_root());
}

TEST(DwarfUnwinder, AFrameWithoutCfiAndWithoutFramePointerStopsAsNoCfi) {
  JitTrampoline jit;
  ASSERT_NE(jit.fn(), nullptr);
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(jit.fn());
  Self self;
  // In the copy, break the trampoline's frame: its return address into chain_c, at
  // [rbp + 8], becomes 0. The trampoline's own return address slot (code + 6, pushed by its
  // call) sits right below its saved rbp.
  const uint64_t into_trampoline = reinterpret_cast<uint64_t>(jit.fn()) + 6;
  size_t slot = 0;
  for (; slot + 24 <= dwarf_test::g_copied; slot += 8) {
    uint64_t w;
    std::memcpy(&w, dwarf_test::g_stack + slot, 8);
    if (w == into_trampoline) break;
  }
  ASSERT_LT(slot + 24, dwarf_test::g_copied);
  std::memset(dwarf_test::g_stack + slot + 16, 0, 8);
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  std::vector<std::string> n = names(self, frames);
  CollectorStats s;
  unwinder->add_stats(s);
  ASSERT_EQ(n.size(), 2u) << joined(n);
  EXPECT_EQ(n[1], "[jit]");
  EXPECT_EQ(s.dwarf_no_cfi, 1u);
  EXPECT_EQ(s.dwarf_frame_pointer_steps, 0u);
}

TEST(DwarfUnwinder, WithoutCfiAZeroFramePointerMarksTheOutermostFrame) {
  // As in ld.so's _start: no FDE, and rbp = 0 as the kernel starts a process.
  JitTrampoline jit;
  ASSERT_NE(jit.fn(), nullptr);
  Self self;
  auto unwinder = make_unwinder(32768);
  std::vector<std::byte> stack(256);
  for (uint64_t rbp : {uint64_t{0}, uint64_t{0x7ffd00000008}}) {
    uint64_t regs[17] = {};
    regs[8] = reinterpret_cast<uint64_t>(jit.fn()) + 1;
    regs[7] = 0x7ffd00001000;
    regs[6] = rbp;
    SampleContext s = make_sample(self.process);
    s.ip = regs[8];
    s.regs_user = U64View(reinterpret_cast<const std::byte*>(regs), 17);
    s.stack_user = stack;
    s.stack_user_dynamic_size = stack.size();
    std::vector<UnwoundFrame> frames;
    unwinder->unwind_user(s, frames);
    EXPECT_EQ(frames.size(), 1u);
  }
  CollectorStats st;
  unwinder->add_stats(st);
  EXPECT_EQ(st.dwarf_to_root, 1u);
  EXPECT_EQ(st.dwarf_no_cfi, 1u);
}

// .eh_frame with one FDE over [start, end) whose CFA is a DWARF expression that jumps to
// itself forever (DW_OP_skip -3).
std::vector<std::byte> looping_eh_frame(uint64_t at, uint64_t start, uint64_t end) {
  std::vector<uint8_t> b = {
      0x14, 0, 0, 0, 0, 0, 0, 0,    // CIE: length 20, id 0
      1, 'z', 'R', 0, 1, 0x78, 16,  // version 1, "zR", code 1, data -8, ra 16
      1, 0x1b,                      // augmentation: FDE pointers pcrel|sdata4
      0x0c, 7, 8, 0x90, 1, 0, 0,    // def_cfa rsp+8; offset rip cfa-8; padding
  };
  for (uint8_t x : {0x14, 0, 0, 0}) b.push_back(x);  // length 20
  const uint32_t cie_pointer = static_cast<uint32_t>(b.size());
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(cie_pointer >> (8 * i)));
  const auto pc = static_cast<int32_t>(start - (at + b.size()));
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(pc) >> (8 * i)));
  const auto range = static_cast<uint32_t>(end - start);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(range >> (8 * i)));
  // augmentation length 0; def_cfa_expression, 3 bytes: DW_OP_skip -3; nops
  for (uint8_t x : {0x00, 0x0f, 0x03, 0x2f, 0xfd, 0xff, 0x00, 0x00}) b.push_back(x);
  for (int i = 0; i < 4; ++i) b.push_back(0);  // terminator
  std::vector<std::byte> out;
  for (uint8_t x : b) out.push_back(std::byte{x});
  return out;
}

TEST(DwarfUnwinder, HostileCfiThatLoopsForeverIsCutOffAndCounted) {
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(nullptr);
  Self self;
  const Mapping* m = self.process->find_mapping(common::ProcessAddress(dwarf_test::g_regs[8]));
  ASSERT_NE(m, nullptr);
  auto file = elf::ElfFile::open_path("/proc/self/exe");
  ASSERT_TRUE(file.has_value());
  uint64_t text_start = ~uint64_t{0}, text_end = 0, image_end = 0;
  for (const elf::LoadSegment& seg : file->load_segments()) {
    image_end = std::max(image_end, seg.vaddr + seg.mem_size);
    if (!seg.executable) continue;
    text_start = std::min(text_start, seg.vaddr);
    text_end = std::max(text_end, seg.vaddr + seg.mem_size);
  }
  // The test binary's code, described by the looping FDE instead of its own CFI.
  const uint64_t at = (image_end + 0xfff) & ~uint64_t{0xfff};
  std::vector<std::byte> eh = looping_eh_frame(at, text_start, text_end);
  UnwindTable::Sections sections;
  sections.segments = file->load_segments();
  sections.eh_frame = eh;
  sections.eh_frame_address = at;
  auto table = UnwindTable::build(sections, "looping");
  ASSERT_TRUE(table.has_value()) << table.error().message();
  auto unwinder = make_unwinder(32768);
  unwinder->tables().insert(unwind_table_key(*m->module), std::move(*table));
  std::vector<UnwoundFrame> frames;
  unwinder->unwind_user(make_sample(self.process), frames);
  CollectorStats s;
  unwinder->add_stats(s);
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_EQ(s.dwarf_bad_frame, 1u);
}

TEST(DwarfUnwinder, TablesAreSharedAcrossProcessesOfTheSameBinary) {
  dwarf_test::g_copy_limit = 32768;
  dwarf_test::chain_a(nullptr);
  Self self;
  auto unwinder = make_unwinder(32768);
  std::vector<UnwoundFrame> frames;
  SampleContext sample = make_sample(self.process);
  unwinder->unwind_user(sample, frames);
  CollectorStats first;
  unwinder->add_stats(first);
  // The same binaries seen as another pid: no table is read again.
  Self other;
  sample.process = other.process;
  frames.clear();
  unwinder->unwind_user(sample, frames);
  CollectorStats second;
  unwinder->add_stats(second);
  EXPECT_EQ(second.unwind_tables_loaded, first.unwind_tables_loaded);
  EXPECT_EQ(second.dwarf_to_root, 2u);
}

}  // namespace
}  // namespace ember::collector
