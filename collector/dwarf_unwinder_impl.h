#pragma once
// DwarfUnwinder's private state, shared by its two engines: dwarf_unwinder.cpp (libunwind: the
// accessors, whole unwinds, and single frames for the compiled engine) and cfi_unwind.cpp (the
// compiled rows). libunwind's headers stay in dwarf_unwinder.cpp.

#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "collector/dwarf_unwinder.h"
#include "collector/process_table.h"

struct unw_addr_space;  // libunwind's opaque address space (unw_addr_space_t)

namespace ember::collector {

// Registers by DWARF number, which is libunwind's x86-64 numbering too: 0-15 the general
// registers (6 rbp, 7 rsp), 16 the instruction pointer.
inline constexpr int kRegCount = 17;
inline constexpr int kRegRbp = 6, kRegRsp = 7, kRegRip = 16;
inline constexpr uint64_t kMinCodeAddress = 4096;
// A read above the copy this close to the sampled stack pointer is taken for more stack;
// anything further is some other memory.
inline constexpr uint64_t kStackReach = uint64_t{1} << 30;

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
  uint32_t regs_valid = 0;  // bit per register number
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
  bool valid(int reg) const { return (regs_valid & (1u << reg)) != 0; }
};

class DwarfUnwinder::Impl {
 public:
  explicit Impl(const DwarfUnwinderOptions& options);
  ~Impl();

  [[nodiscard]] Result<void> init();
  void unwind(const SampleContext& sample, std::vector<UnwoundFrame>& out);
  void add_stats(CollectorStats& s) const;

  const DwarfUnwinderOptions options_;
  UnwindTableCache tables_;
  bool last_to_root_ = false;

 private:
  struct SpaceDeleter {
    void operator()(unw_addr_space* as) const;
  };
  using AddressSpace = std::unique_ptr<unw_addr_space, SpaceDeleter>;
  struct Space {
    AddressSpace as;
    uint64_t maps_generation = 0;
    uint64_t last_used = 0;
  };
  // A module's table as the compiled engine last found it (the weak owner tells a module that
  // died, whose address may since hold another).
  struct ModuleTable {
    std::weak_ptr<const profile::Module> owner;
    const UnwindTable* table = nullptr;
  };

  AddressSpace make_space() const;
  unw_addr_space* space_for(const Process& process);
  void unwind_libunwind(SampleState& st, std::vector<UnwoundFrame>& out);
  void unwind_compiled(SampleState& st, std::vector<UnwoundFrame>& out);
  // One frame by libunwind from st's registers (`exact_ip`: the ip is where execution stopped,
  // not a return address). unw_step's answer; after a step (> 0) st holds the caller's registers.
  int libunwind_step(SampleState& st, bool exact_ip);
  // The compiled row for an address in `mapping` (nullptr: no CFI there).
  const CfiRow* row_for(const Mapping& mapping, uint64_t ip);
  bool frame_pointer_step(SampleState& st, uint64_t sp, uint64_t rbp);
  // `saved`: the callee-saved registers of the shim's frame (its caller's, as a shim keeps them).
  bool shim_step(SampleState& st, const SampleState& saved, uint64_t sp, const Mapping* callee);
  // The frames one unwind has taken, for the checks every engine makes on the next one.
  struct FrameWalk {
    bool interrupted = true;  // the next frame taken is where execution stopped (the leaf)
    uint64_t previous_sp = 0;
    size_t frames = 0;
  };
  // Takes the frame at ip/sp (in `mapping`, nullptr: none) when it can be the caller of the
  // last one taken; false when the unwind ends here (a bad frame, or the depth limit), counted.
  bool take_frame(FrameWalk& walk, uint64_t ip, uint64_t sp, const Mapping* mapping,
                  std::vector<UnwoundFrame>& out);
  // How an unwind that cannot go on ended, from the fault its last reads noted (`without_cfi`:
  // at a frame without CFI whose frame pointer and shim rules failed).
  void count_stop(const SampleState& st, bool without_cfi);
  // How an unwind ended whose last libunwind step gave `step` (0: the outermost frame).
  void count_libunwind_end(const SampleState& st, int step);

  std::unordered_map<int32_t, Space> spaces_;
  std::unordered_map<const profile::Module*, ModuleTable> module_tables_;
  uint64_t use_clock_ = 0;
  uint64_t tables_generation_ = 0;
  CollectorStats stats_;  // its dwarf_* fields
};

}  // namespace ember::collector
