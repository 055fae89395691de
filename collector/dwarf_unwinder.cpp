#include "collector/dwarf_unwinder.h"
#include "collector/dwarf_unwinder_impl.h"

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
static_assert(kRegCount == UNW_X86_64_RIP + 1 && kRegRbp == UNW_X86_64_RBP && kRegRsp == UNW_X86_64_RSP);
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
// The registers a callee preserves (System V x86-64), as the cursor has them for a frame.
SampleState callee_saved(unw_cursor_t& cursor) {
  SampleState out;
  for (int reg : {UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13, UNW_X86_64_R14,
                  UNW_X86_64_R15}) {
    unw_word_t value = 0;
    if (unw_get_reg(&cursor, reg, &value) == 0) {
      out.regs[reg] = value;
      out.regs_valid |= 1u << reg;
    }
  }
  return out;
}

}  // namespace

void DwarfUnwinder::Impl::SpaceDeleter::operator()(unw_addr_space* as) const { unw_destroy_addr_space(as); }

DwarfUnwinder::Impl::Impl(const DwarfUnwinderOptions& options) : options_(options), tables_(options.tables) {}
DwarfUnwinder::Impl::~Impl() = default;

Result<void> DwarfUnwinder::Impl::init() {
  // Create one address space up front: a libunwind that cannot should fail at start, not
  // silently per sample.
  AddressSpace probe = make_space();
  if (!probe) return make_error(ErrorCode::kInternal, "libunwind: cannot create a remote address space");
  return {};
}

void DwarfUnwinder::Impl::add_stats(CollectorStats& s) const {
  s += stats_;
  const UnwindTableStats& t = tables_.stats();
  s.unwind_tables += t.tables;
  s.unwind_table_bytes += t.bytes;
  s.unwind_tables_loaded += t.loaded;
  s.unwind_tables_from_debug_frame += t.from_debug_frame;
  s.binaries_without_cfi += t.without_cfi;
}

DwarfUnwinder::Impl::AddressSpace DwarfUnwinder::Impl::make_space() const {
  AddressSpace as(unw_create_addr_space(&g_accessors, 0));
  if (!as) return as;
  // Register rules cached by IP, per process: a frame seen before costs no FDE search and no
  // CFI interpretation (without the cache a sample costs ~5x more). The global policy keeps
  // one cache per address space. Its lock masks signals, two rt_sigprocmask calls per step and
  // most of what a cached step costs; the per-thread policy would avoid them but shares one
  // cache among every address space of a thread, and libunwind builds without __thread
  // (Debian's 1.6.2) turn it into the global policy anyway. (The compiled engine avoids all of
  // it for every frame its rows hold.)
  unw_set_caching_policy(as.get(), UNW_CACHE_GLOBAL);
  unw_set_cache_size(as.get(), options_.register_rule_cache, 0);
  return as;
}

unw_addr_space* DwarfUnwinder::Impl::space_for(const Process& process) {
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

void DwarfUnwinder::Impl::unwind(const SampleContext& sample, std::vector<UnwoundFrame>& out) {
  // Tables are evicted between samples only; cached rules and tables may point into them.
  tables_.trim();
  if (tables_.generation() != tables_generation_) {
    for (auto& [pid, space] : spaces_) unw_flush_cache(space.as.get(), 0, 0);
    module_tables_.clear();
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
  if (options_.engine == DwarfEngine::kCompiled) {
    unwind_compiled(st, out);
  } else {
    unwind_libunwind(st, out);
  }
}

int DwarfUnwinder::Impl::libunwind_step(SampleState& st, bool exact_ip) {
  unw_addr_space_t as = space_for(*st.process);
  if (as == nullptr) return -UNW_EUNSPEC;
  // A new cursor looks its ip up as it is; a return address is looked up in the call before it
  // (libunwind does the same for the frames of one cursor).
  const uint64_t ip = st.regs[UNW_X86_64_RIP];
  if (!exact_ip) st.regs[UNW_X86_64_RIP] = ip - 1;
  unw_cursor_t cursor;
  st.no_cfi = false;
  st.fault = Fault::kNone;
  int step = unw_init_remote(&cursor, as, &st);
  if (step >= 0) step = unw_step(&cursor);
  st.regs[UNW_X86_64_RIP] = ip;
  if (step <= 0) return step;
  // The caller's registers: what libunwind found for each (a location it cannot read is a
  // register ember no longer knows).
  const Fault fault = st.fault;
  uint64_t regs[kRegCount] = {};
  uint32_t valid = 0;
  for (int reg = 0; reg < kRegCount; ++reg) {
    unw_word_t value = 0;
    if (unw_get_reg(&cursor, reg, &value) == 0) {
      regs[reg] = value;
      valid |= 1u << reg;
    }
  }
  std::memcpy(st.regs, regs, sizeof regs);
  st.regs_valid = valid;
  st.fault = fault;
  if ((valid & (1u << UNW_X86_64_RIP)) == 0 || (valid & (1u << UNW_X86_64_RSP)) == 0) return -UNW_EBADFRAME;
  return step;
}

void DwarfUnwinder::Impl::count_libunwind_end(const SampleState& st, int step) {
  if (step == 0) {
    stats_.dwarf_to_root++;
    last_to_root_ = true;
  } else {
    count_stop(st, false);
  }
}

bool DwarfUnwinder::Impl::take_frame(FrameWalk& walk, uint64_t ip, uint64_t sp, const Mapping* mapping,
                                     std::vector<UnwoundFrame>& out) {
  // A caller lives above its callee on the stack, and its code lies in some mapping; a frame
  // that breaks either came from CFI or a frame pointer that cannot be right.
  if (walk.frames > 0 && (sp < walk.previous_sp || ip < kMinCodeAddress || mapping == nullptr)) {
    stats_.dwarf_bad_frame++;
    return false;
  }
  out.push_back(UnwoundFrame{common::ProcessAddress(ip), false, walk.interrupted});
  walk.interrupted = false;
  walk.previous_sp = sp;
  if (++walk.frames >= options_.max_frames) {
    stats_.dwarf_max_depth++;
    return false;
  }
  return true;
}

void DwarfUnwinder::Impl::unwind_libunwind(SampleState& st, std::vector<UnwoundFrame>& out) {
  unw_addr_space_t as = space_for(*st.process);
  unw_cursor_t cursor;
  if (as == nullptr || unw_init_remote(&cursor, as, &st) < 0) {
    stats_.dwarf_bad_frame++;
    out.push_back(UnwoundFrame{common::ProcessAddress(st.regs[UNW_X86_64_RIP]), false, true});
    return;
  }

  FrameWalk walk;
  // After a frame-pointer or shim step the cursor starts again at a return address, given to
  // libunwind one byte back so that its rules are those of the call (as for any caller).
  uint64_t ip_bias = 0;
  const Mapping* callee = nullptr;  // the mapping of the frame below (towards the leaf)
  while (true) {
    unw_word_t ip = 0, sp = 0;
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || unw_get_reg(&cursor, UNW_REG_SP, &sp) < 0) {
      stats_.dwarf_bad_frame++;
      break;
    }
    ip += ip_bias;
    ip_bias = 0;
    const Mapping* mapping = st.process->find_mapping(common::ProcessAddress(ip));
    if (!take_frame(walk, ip, sp, mapping, out)) break;
    unw_word_t rbp = 0;
    const bool have_rbp = unw_get_reg(&cursor, UNW_X86_64_RBP, &rbp) == 0;
    // Anonymous code has no CFI: its registers are kept before unw_step guesses over them.
    const bool anonymous = mapping != nullptr && mapping->module &&
                           (mapping->module->kind == profile::MappingKind::kJit ||
                            mapping->module->kind == profile::MappingKind::kAnonymous);
    SampleState saved;
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
        count_stop(st, true);
        break;
      }
      callee = mapping;
      st.regs[UNW_X86_64_RIP] -= 1;
      const int init = unw_init_remote(&cursor, as, &st);
      st.regs[UNW_X86_64_RIP] += 1;
      if (init < 0) {
        stats_.dwarf_bad_frame++;
        break;
      }
      ip_bias = 1;
      continue;
    }
    if (step > 0) {
      callee = mapping;
      continue;
    }
    count_libunwind_end(st, step);
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
