#include "collector/dwarf_unwinder.h"

// libunwind's remote (cross-address-space) interface, x86-64 only. Kept to this file: the
// header directory of libunwind-dev also holds an unwind.h that would shadow GCC's.
#include <libunwind.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "collector/process_table.h"

// Exported by libunwind but not declared in its headers (perf declares it the same way).
extern "C" int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t* di,
                                                  unw_proc_info_t* pi, int need_unwind_info, void* arg);

namespace ember::collector {

namespace {

constexpr uint64_t kRegsAbi64 = 2;  // PERF_SAMPLE_REGS_ABI_64
constexpr int kRegCount = UNW_X86_64_RIP + 1;
constexpr uint64_t kMinCodeAddress = 4096;
// A read above the copy this close to the sampled stack pointer is taken for more stack;
// anything further is some other memory.
constexpr uint64_t kStackReach = uint64_t{1} << 30;
// Reads one sample's unwind may make. libunwind reads CFI a byte at a time and puts no bound on
// a DWARF expression that jumps backwards (DW_OP_skip, DW_OP_bra): hostile CFI must not hang
// the profiler. Real unwinds need a few thousand reads per frame at most, on cache misses.
constexpr uint64_t kMaxReadsPerSample = uint64_t{1} << 20;

// perf's x86-64 register numbers (arch/x86/include/uapi/asm/perf_regs.h) in libunwind's numbering.
constexpr int kPerfToUnw[24] = {
    UNW_X86_64_RAX, UNW_X86_64_RBX, UNW_X86_64_RCX, UNW_X86_64_RDX, UNW_X86_64_RSI, UNW_X86_64_RDI,
    UNW_X86_64_RBP, UNW_X86_64_RSP, UNW_X86_64_RIP, -1 /* flags */, -1, -1, -1, -1, -1, -1 /* segments */,
    UNW_X86_64_R8,  UNW_X86_64_R9,  UNW_X86_64_R10, UNW_X86_64_R11, UNW_X86_64_R12, UNW_X86_64_R13,
    UNW_X86_64_R14, UNW_X86_64_R15};

enum class Fault : uint8_t { kNone, kStackEnd, kBadMemory };

// Everything one sample's unwind may see; libunwind hands it back to each accessor as `arg`.
struct SampleState {
  const Process* process = nullptr;
  UnwindTableCache* tables = nullptr;
  const std::byte* stack = nullptr;
  uint64_t stack_start = 0;  // the sampled stack pointer
  uint64_t stack_size = 0;   // bytes the kernel copied
  bool stack_copy_full = false;  // the copy was cut by its size, not by the end of the stack
  uint64_t regs[kRegCount] = {};
  uint32_t regs_valid = 0;  // bit per libunwind register number
  // Notes from the accessors during one unw_step.
  bool no_cfi = false;
  Fault fault = Fault::kNone;
  uint64_t reads = 0;
  // The last CFI slot read (most reads of a step hit the same table).
  uint32_t last_slot = ~0u;
  const UnwindTable* last_table = nullptr;

  bool stack_read(uint64_t address, uint64_t& out) const {
    const uint64_t off = address - stack_start;  // wraps for addresses below the copy
    if (stack_size < 8 || off > stack_size - 8) return false;
    std::memcpy(&out, stack + off, 8);
    return true;
  }
  void note_fault(uint64_t address) {
    if (address >= stack_start && address - stack_start < kStackReach && stack_copy_full) {
      fault = Fault::kStackEnd;
    } else if (fault == Fault::kNone) {
      fault = Fault::kBadMemory;
    }
  }
};

// ------------------------------------------------------------------------------------------
// Accessors

int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* pi, int need_unwind_info, void* arg) {
  auto& st = *static_cast<SampleState*>(arg);
  const Mapping* m = st.process->find_mapping(common::ProcessAddress(ip));
  if (m == nullptr || !m->module ||
      (m->module->kind != profile::MappingKind::kFile && m->module->kind != profile::MappingKind::kVdso)) {
    st.no_cfi = true;  // JIT code, anonymous memory, or no mapping at all
    return -UNW_ENOINFO;
  }
  UnwindTableCache::Found found = st.tables->find(*m->module);
  if (found.table == nullptr) {
    st.no_cfi = true;
    return -UNW_ENOINFO;
  }
  const UnwindTable& t = *found.table;
  auto link = t.link_address(ip - m->start + m->page_offset);
  if (!link || *link < t.text_start() || *link >= t.text_end()) {
    st.no_cfi = true;
    return -UNW_ENOINFO;
  }
  // libunwind searches the table in the table's own view (slot base + link-time addresses) and
  // reads everything there through access_mem; the FDE's range comes back in that view and is
  // moved to where this process has the binary.
  const uint64_t base = kCfiSpaceBase + (uint64_t{found.slot} << kCfiSlotShift);
  unw_dyn_info_t di;
  std::memset(&di, 0, sizeof di);
  di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  di.start_ip = base + t.text_start();
  di.end_ip = base + t.text_end();
  di.u.rti.segbase = base + t.segbase();
  di.u.rti.table_data = base + t.table_address();
  di.u.rti.table_len = t.fde_count() * 8 / sizeof(unw_word_t);
  const uint64_t view_ip = base + *link;
  int ret = _Ux86_64_dwarf_search_unwind_table(as, view_ip, &di, pi, need_unwind_info, arg);
  if (ret < 0) {
    if (ret == -UNW_ENOINFO) st.no_cfi = true;
    return ret;
  }
  const uint64_t delta = ip - view_ip;
  pi->start_ip += delta;
  pi->end_ip += delta;
  return 0;
}

void put_unwind_info(unw_addr_space_t, unw_proc_info_t*, void*) {
  // libunwind frees the DWARF unwind info it allocated itself (format TABLE).
}

int get_dyn_info_list_addr(unw_addr_space_t, unw_word_t*, void*) {
  return -UNW_ENOINFO;  // no dynamically registered unwind info in a sample
}

int access_mem(unw_addr_space_t, unw_word_t address, unw_word_t* value, int write, void* arg) {
  auto& st = *static_cast<SampleState*>(arg);
  if (write != 0 || ++st.reads > kMaxReadsPerSample) return -UNW_EINVAL;
  uint64_t word;
  if (st.stack_read(address, word)) {
    *value = word;
    return 0;
  }
  if (address >= kCfiSpaceBase) {
    const uint64_t offset = address - kCfiSpaceBase;
    const auto slot = static_cast<uint32_t>(offset >> kCfiSlotShift);
    if (slot != st.last_slot) {
      st.last_table = slot < kCfiMaxSlots ? st.tables->in_slot(slot) : nullptr;
      st.last_slot = slot;
    }
    if (st.last_table != nullptr && st.last_table->read_word(offset & (kCfiSlotSize - 1), word)) {
      *value = word;
      return 0;
    }
    return -UNW_EINVAL;  // hostile or broken CFI; libunwind reports the step as failed
  }
  st.note_fault(address);
  return -UNW_EINVAL;
}

int access_reg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* value, int write, void* arg) {
  auto& st = *static_cast<SampleState*>(arg);
  if (write != 0) return -UNW_EREADONLYREG;
  if (reg < 0 || reg >= kRegCount || (st.regs_valid & (1u << reg)) == 0) return -UNW_EBADREG;
  *value = st.regs[reg];
  return 0;
}

int access_fpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }

int resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }

unw_accessors_t g_accessors = {
    find_proc_info, put_unwind_info, get_dyn_info_list_addr, access_mem, access_reg, access_fpreg, resume,
    nullptr /* get_proc_name: names come later, from the symbolizer */};

// The registers a callee preserves (System V x86-64), as the cursor has them for a frame.
struct CalleeSaved {
  uint64_t regs[kRegCount] = {};
  uint32_t valid = 0;  // bit per libunwind register number
};

CalleeSaved callee_saved(unw_cursor_t& cursor) {
  CalleeSaved out;
  for (int reg : {UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13, UNW_X86_64_R14,
                  UNW_X86_64_R15}) {
    unw_word_t value = 0;
    if (unw_get_reg(&cursor, reg, &value) == 0) {
      out.regs[reg] = value;
      out.valid |= 1u << reg;
    }
  }
  return out;
}

struct AddressSpaceDeleter {
  void operator()(unw_addr_space_t as) const { unw_destroy_addr_space(as); }
};
using AddressSpace = std::unique_ptr<std::remove_pointer_t<unw_addr_space_t>, AddressSpaceDeleter>;

}  // namespace

class DwarfUnwinder::Impl {
 public:
  explicit Impl(const DwarfUnwinderOptions& options) : options_(options), tables_(options.tables) {}

  [[nodiscard]] Result<void> init() {
    // Create one address space up front: a libunwind that cannot should fail at start, not
    // silently per sample.
    AddressSpace probe = make_space();
    if (!probe) return make_error(ErrorCode::kInternal, "libunwind: cannot create a remote address space");
    return {};
  }

  void unwind(const SampleContext& sample, std::vector<UnwoundFrame>& out);
  void add_stats(CollectorStats& s) const {
    s += stats_;
    const UnwindTableStats& t = tables_.stats();
    s.unwind_tables += t.tables;
    s.unwind_table_bytes += t.bytes;
    s.unwind_tables_loaded += t.loaded;
    s.unwind_tables_from_debug_frame += t.from_debug_frame;
    s.binaries_without_cfi += t.without_cfi;
  }

  const DwarfUnwinderOptions options_;
  UnwindTableCache tables_;
  bool last_to_root_ = false;

 private:
  struct Space {
    AddressSpace as;
    uint64_t maps_generation = 0;
    uint64_t last_used = 0;
  };

  AddressSpace make_space() const {
    AddressSpace as(unw_create_addr_space(&g_accessors, 0));
    if (!as) return as;
    // Register rules cached by IP, per process: a frame seen before costs no FDE search and no
    // CFI interpretation (without the cache a sample costs ~5x more). The global policy keeps
    // one cache per address space. Its lock masks signals, two rt_sigprocmask calls per step and
    // most of what a cached step costs; the per-thread policy would avoid them but shares one
    // cache among every address space of a thread, and libunwind builds without __thread
    // (Debian's 1.6.2) turn it into the global policy anyway.
    unw_set_caching_policy(as.get(), UNW_CACHE_GLOBAL);
    unw_set_cache_size(as.get(), options_.register_rule_cache, 0);
    return as;
  }
  unw_addr_space_t space_for(const Process& process);
  bool frame_pointer_step(SampleState& st, uint64_t sp, uint64_t rbp);
  bool shim_step(SampleState& st, const CalleeSaved& saved, uint64_t sp, const Mapping* callee);

  std::unordered_map<int32_t, Space> spaces_;
  uint64_t use_clock_ = 0;
  uint64_t tables_generation_ = 0;
  CollectorStats stats_;  // its dwarf_* fields
};

unw_addr_space_t DwarfUnwinder::Impl::space_for(const Process& process) {
  auto it = spaces_.find(process.pid());
  if (it == spaces_.end()) {
    if (spaces_.size() >= std::max<size_t>(options_.max_address_spaces, 1)) {
      auto oldest = std::min_element(spaces_.begin(), spaces_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      spaces_.erase(oldest);
    }
    Space s;
    s.as = make_space();
    if (!s.as) return nullptr;
    s.maps_generation = process.maps_generation();
    it = spaces_.emplace(process.pid(), std::move(s)).first;
  } else if (it->second.maps_generation != process.maps_generation()) {
    // New mappings (exec, dlopen, a new process with a reused pid): cached rules may describe
    // code that is no longer at those addresses.
    unw_flush_cache(it->second.as.get(), 0, 0);
    it->second.maps_generation = process.maps_generation();
  }
  it->second.last_used = ++use_clock_;
  return it->second.as.get();
}

bool DwarfUnwinder::Impl::frame_pointer_step(SampleState& st, uint64_t sp, uint64_t rbp) {
  // The frame-pointer rule: [rbp] is the caller's rbp, [rbp + 8] the return address, the
  // caller's sp is rbp + 16. Only believed when rbp points into this frame's part of the copy.
  if (rbp < sp || (rbp & 7) != 0) return false;
  uint64_t saved_rbp, return_address;
  if (!st.stack_read(rbp, saved_rbp) || !st.stack_read(rbp + 8, return_address)) {
    st.note_fault(rbp + 8);
    return false;
  }
  if (return_address < kMinCodeAddress ||
      st.process->find_mapping(common::ProcessAddress(return_address)) == nullptr) {
    return false;
  }
  st.regs_valid = (1u << UNW_X86_64_RIP) | (1u << UNW_X86_64_RSP) | (1u << UNW_X86_64_RBP);
  st.regs[UNW_X86_64_RIP] = return_address;
  st.regs[UNW_X86_64_RSP] = rbp + 16;
  st.regs[UNW_X86_64_RBP] = saved_rbp;
  return true;
}

bool DwarfUnwinder::Impl::shim_step(SampleState& st, const CalleeSaved& saved, uint64_t sp,
                                    const Mapping* callee) {
  // A call shim in anonymous memory between two functions of one binary, such as CPython's
  // -X perf trampolines (3.12+, x86-64: "sub $8,%rsp; call *%rcx; add $8,%rsp; ret", copied into
  // an anonymous arena, no CFI, rbp untouched): at its return address the caller's return
  // address is at [sp + 8] and the caller's sp is sp + 16; every other register is the caller's.
  // Believed only when that return address lies in the binary the shim called into (libpython
  // calls its trampoline, which calls back into libpython).
  if (callee == nullptr || !callee->module || callee->module->kind != profile::MappingKind::kFile) return false;
  uint64_t return_address;
  if (!st.stack_read(sp + 8, return_address)) {
    st.note_fault(sp + 8);
    return false;
  }
  const Mapping* caller = st.process->find_mapping(common::ProcessAddress(return_address));
  if (caller == nullptr || caller->module != callee->module) return false;
  st.regs_valid = saved.valid | (1u << UNW_X86_64_RIP) | (1u << UNW_X86_64_RSP);
  for (int reg = 0; reg < kRegCount; ++reg) {
    if ((saved.valid & (1u << reg)) != 0) st.regs[reg] = saved.regs[reg];
  }
  st.regs[UNW_X86_64_RIP] = return_address;
  st.regs[UNW_X86_64_RSP] = sp + 16;
  return true;
}

void DwarfUnwinder::Impl::unwind(const SampleContext& sample, std::vector<UnwoundFrame>& out) {
  // Tables are evicted between samples only; libunwind's cached rules may point into them.
  tables_.trim();
  if (tables_.generation() != tables_generation_) {
    for (auto& [pid, space] : spaces_) unw_flush_cache(space.as.get(), 0, 0);
    tables_generation_ = tables_.generation();
  }

  last_to_root_ = false;
  const bool user_mode = sample.mode == CpuMode::kUser;
  if (sample.regs_abi != kRegsAbi64 || sample.regs_user.empty() || sample.process == nullptr) {
    // A kernel thread has no user part; a 32-bit process is not unwound by this unwinder.
    if (user_mode) {
      stats_.dwarf_no_registers++;
      out.push_back(UnwoundFrame{common::ProcessAddress(sample.ip), false, true});
    }
    return;
  }

  SampleState st;
  st.process = sample.process;
  st.tables = &tables_;
  size_t index = 0;
  for (int bit = 0; bit < 24; ++bit) {
    if ((sample.regs_mask & (uint64_t{1} << bit)) == 0) continue;
    if (index >= sample.regs_user.size()) break;
    const uint64_t value = sample.regs_user[index++];
    const int reg = kPerfToUnw[bit];
    if (reg < 0) continue;
    st.regs[reg] = value;
    st.regs_valid |= 1u << reg;
  }
  const uint32_t needed = (1u << UNW_X86_64_RIP) | (1u << UNW_X86_64_RSP);
  if ((st.regs_valid & needed) != needed) {
    if (user_mode) {
      stats_.dwarf_no_registers++;
      out.push_back(UnwoundFrame{common::ProcessAddress(sample.ip), false, true});
    }
    return;
  }
  st.stack = sample.stack_user.data();
  st.stack_start = st.regs[UNW_X86_64_RSP];
  st.stack_size = std::min<uint64_t>(sample.stack_user.size(), sample.stack_user_dynamic_size);
  st.stack_copy_full = st.stack_size >= options_.stack_bytes;

  stats_.dwarf_unwinds++;
  unw_addr_space_t as = space_for(*sample.process);
  unw_cursor_t cursor;
  if (as == nullptr || unw_init_remote(&cursor, as, &st) < 0) {
    stats_.dwarf_bad_frame++;
    out.push_back(UnwoundFrame{common::ProcessAddress(st.regs[UNW_X86_64_RIP]), false, true});
    return;
  }

  bool interrupted = true;
  uint64_t previous_sp = 0;
  size_t frames = 0;
  const Mapping* callee = nullptr;  // the mapping of the frame below (towards the leaf)
  while (true) {
    unw_word_t ip = 0, sp = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0) {
      stats_.dwarf_bad_frame++;
      break;
    }
    // A caller lives above its callee on the stack, and its code lies in some mapping; a frame
    // that breaks either came from CFI or a frame pointer that cannot be right.
    const Mapping* mapping = st.process->find_mapping(common::ProcessAddress(ip));
    if (frames > 0 && (sp < previous_sp || ip < kMinCodeAddress || mapping == nullptr)) {
      stats_.dwarf_bad_frame++;
      break;
    }
    out.push_back(UnwoundFrame{common::ProcessAddress(ip), false, interrupted});
    interrupted = false;
    previous_sp = sp;
    if (++frames >= options_.max_frames) {
      stats_.dwarf_max_depth++;
      break;
    }
    unw_word_t rbp = 0;
    const bool have_rbp = unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp) == 0;
    // Anonymous code has no CFI: its registers are kept before unw_step guesses over them.
    const bool anonymous = mapping != nullptr && mapping->module &&
                           (mapping->module->kind == profile::MappingKind::kJit ||
                            mapping->module->kind == profile::MappingKind::kAnonymous);
    CalleeSaved saved;
    if (anonymous) saved = callee_saved(cursor);
    st.no_cfi = false;
    st.fault = Fault::kNone;
    const int step = unw_step(&cursor);
    if (st.no_cfi) {
      // No FDE for this frame: whatever libunwind guessed is dropped for the explicit,
      // checked frame-pointer rule.
      st.fault = Fault::kNone;
      if (have_rbp && rbp == 0) {
        // The x86-64 ABI marks the outermost frame with rbp = 0 (ld.so's _start has no CFI).
        stats_.dwarf_to_root++;
        last_to_root_ = true;
        break;
      }
      // A frame pointer set up right before the call (rbp == sp) is the frame-pointer rule's
      // case; otherwise a shim is tried first: its rbp is the caller's, anything at all.
      const bool frame_set_up = have_rbp && rbp == sp;
      if (anonymous && !frame_set_up && shim_step(st, saved, sp, callee)) {
        stats_.dwarf_shim_steps++;
      } else if (have_rbp && frame_pointer_step(st, sp, rbp)) {
        stats_.dwarf_frame_pointer_steps++;
      } else {
        if (st.fault == Fault::kStackEnd) {
          stats_.dwarf_stack_end++;
        } else {
          stats_.dwarf_no_cfi++;
        }
        break;
      }
      callee = mapping;
      if (unw_init_remote(&cursor, as, &st) < 0) {
        stats_.dwarf_bad_frame++;
        break;
      }
      continue;
    }
    if (step > 0) {
      callee = mapping;
      continue;
    }
    if (step == 0) {
      stats_.dwarf_to_root++;
      last_to_root_ = true;
    } else if (st.fault == Fault::kStackEnd) {
      stats_.dwarf_stack_end++;
    } else if (st.fault == Fault::kBadMemory) {
      stats_.dwarf_bad_memory++;
    } else {
      stats_.dwarf_bad_frame++;
    }
    break;
  }
}

// ------------------------------------------------------------------------------------------

Result<std::unique_ptr<DwarfUnwinder>> DwarfUnwinder::create(const DwarfUnwinderOptions& options) {
  if (options.stack_bytes < 8 || options.stack_bytes > kMaxStackCopyBytes || options.stack_bytes % 8 != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the user stack copy must be a multiple of 8 bytes between 8 and {} "
                                  "(the kernel's limit), not {}",
                                  kMaxStackCopyBytes, options.stack_bytes));
  }
  auto impl = std::make_unique<Impl>(options);
  if (auto r = impl->init(); !r) return std::unexpected(r.error());
  return std::unique_ptr<DwarfUnwinder>(new DwarfUnwinder(std::move(impl)));
}

DwarfUnwinder::DwarfUnwinder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DwarfUnwinder::~DwarfUnwinder() = default;

PerfSampleNeeds DwarfUnwinder::needs() const {
  return PerfSampleNeeds{false, kX86UserRegsMask, impl_->options_.stack_bytes};
}

void DwarfUnwinder::unwind_user(const SampleContext& sample, std::vector<UnwoundFrame>& out) {
  impl_->unwind(sample, out);
}

void DwarfUnwinder::add_stats(CollectorStats& stats) const { impl_->add_stats(stats); }
bool DwarfUnwinder::last_reached_root() const { return impl_->last_to_root_; }

const UnwindTableCache& DwarfUnwinder::tables() const { return impl_->tables_; }
UnwindTableCache& DwarfUnwinder::tables() { return impl_->tables_; }

}  // namespace ember::collector
