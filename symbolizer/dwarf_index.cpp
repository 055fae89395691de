#include "symbolizer/dwarf_index.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <utility>
#include <string>
#include <unordered_map>

#include "symbolizer/demangle.h"
#include "symbolizer/dwarf_scopes.h"
#include "symbolizer/line_table.h"
#include "symbolizer/sorted_ranges.h"

namespace ember::symbolizer {

namespace {

struct DwarfDeleter {
  void operator()(Dwarf* dwarf) const { dwarf_end(dwarf); }
};
using DwarfPtr = std::unique_ptr<Dwarf, DwarfDeleter>;

struct CuRange {
  uint64_t start;
  uint64_t end;
  uint32_t cu;
};


struct Cu {
  Dwarf_Die die;  // the unit's DIE: a small copyable handle into libdw's data
  UnitLayout layout;
  bool decoded = false;
  bool line_error_reported = false;  // survives release(): a problem is reported once
  LineTable lines;
  std::vector<Scope> scopes;
  std::vector<ScopeRange> ranges;  // grouped by parent, each group sorted by start
  std::vector<uint64_t> max_end;   // prefix maximum of ends, within each group
  size_t bytes = 0;

  void release() {
    decoded = false;
    lines = {};
    scopes = {};
    ranges = {};
    max_end = {};
    bytes = 0;
  }
};

struct Name {
  std::string function;
  std::string system_name;
};

// The DWARF ranges of a DIE that can be code: empty, zero-based (functions removed by
// --gc-sections keep address 0) and wrapping (lld's -1/-2 tombstones) ranges are left out.
template <class Fn>
void for_each_code_range(Dwarf_Die* die, Fn&& fn) {
  Dwarf_Addr base = 0, start = 0, end = 0;
  ptrdiff_t offset = 0;
  int guard = 0;
  while ((offset = dwarf_ranges(die, offset, &base, &start, &end)) > 0) {
    if (is_code_range(start, end)) fn(start, end);
    if (++guard > 1 << 16) break;  // a range list cannot be this long in real code
  }
}

uint32_t udata_attr(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_attr(die, name, &attr) == nullptr || dwarf_formudata(&attr, &value) != 0) return 0;
  return value > UINT32_MAX ? 0 : static_cast<uint32_t>(value);
}

void group_ranges(Cu& cu);

const char* string_attr_integrate(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, name, &attr) == nullptr) return nullptr;
  return dwarf_formstring(&attr);
}

}  // namespace

struct DwarfIndex::Impl {
  Settings settings;
  std::string file_name;
  DwarfPtr dwarf;
  bool mapped = false;
  std::vector<Cu> cus;
  SortedRanges<CuRange> cu_ranges;
  std::deque<uint32_t> decode_order;  // oldest first, for eviction
  size_t decoded_bytes = 0;
  std::unordered_map<Dwarf_Off, Name> names;
  size_t name_bytes = 0;
  LineSections sections;
  DebugInfoSections info_sections;
  std::vector<std::string> errors;  // not yet taken by take_errors()

  void build_unit_map();
  Cu& decoded(uint32_t index);
  void decode(Cu& cu);
  void decode_lines(Cu& cu);
  void decode_scopes(Cu& cu);
  void walk_scopes_with_libdw(Cu& cu);
  const Name& name_of(Dwarf_Off die);
  Found lookup(uint64_t address, std::vector<Frame>& frames);
};

void DwarfIndex::Impl::build_unit_map() {
  mapped = true;
  Dwarf_Off offset = 0, next = 0;
  size_t header_size = 0;
  Dwarf_Half version = 0;
  Dwarf_Off abbrev_offset = 0;
  uint8_t address_size = 0, offset_size = 0;
  int status = 0;
  size_t unreadable = 0;  // units whose first DIE libdw cannot read
  std::string first_unreadable;
  while ((status = dwarf_next_unit(dwarf.get(), offset, &next, &header_size, &version, &abbrev_offset,
                                   &address_size, &offset_size, nullptr, nullptr)) == 0) {
    UnitLayout layout;
    layout.unit_offset = offset;
    layout.die_offset = offset + header_size;
    layout.end = next;
    layout.abbrev_offset = abbrev_offset;
    layout.version = version;
    layout.address_size = address_size;
    layout.offset_size = offset_size;
    offset = next;
    Dwarf_Die cu_die;
    if (dwarf_offdie(dwarf.get(), layout.die_offset, &cu_die) == nullptr) {
      if (unreadable++ == 0) first_unreadable = fmt::format("at offset {}: {}", layout.unit_offset, dwarf_errmsg(-1));
      continue;
    }
    // Partial and type units hold no code of their own; split units are reached via skeletons.
    int tag = dwarf_tag(&cu_die);
    if (tag == DW_TAG_invalid) {  // its abbreviation cannot be read (.debug_abbrev damaged)
      if (unreadable++ == 0) {
        first_unreadable = fmt::format("at offset {}: its abbreviations (.debug_abbrev at offset {}) cannot be read",
                                       layout.unit_offset, layout.abbrev_offset);
      }
      continue;
    }
    if (tag != DW_TAG_compile_unit && tag != DW_TAG_skeleton_unit) continue;
    Dwarf_Attribute attr;
    Dwarf_Word addr_base = 0;
    if ((dwarf_attr(&cu_die, DW_AT_addr_base, &attr) != nullptr ||
         dwarf_attr(&cu_die, DW_AT_GNU_addr_base, &attr) != nullptr) &&
        dwarf_formudata(&attr, &addr_base) == 0) {
      layout.addr_base = addr_base;
    }
    Dwarf_Word rnglists_base = 0;
    if (dwarf_attr(&cu_die, DW_AT_rnglists_base, &attr) != nullptr && dwarf_formudata(&attr, &rnglists_base) == 0) {
      layout.rnglists_base = rnglists_base;
    }
    Dwarf_Addr base_address = 0;
    if (dwarf_lowpc(&cu_die, &base_address) == 0) layout.base_address = base_address;
    auto index = static_cast<uint32_t>(cus.size());
    cus.push_back(Cu{cu_die, layout});
    bool any = false;
    for_each_code_range(&cu_die, [&](uint64_t start, uint64_t end) {
      cu_ranges.add(CuRange{start, end, index});
      any = true;
    });
    if (!any) {
      // No address ranges on the unit (some assemblers and old compilers): decode it now and use
      // the ranges of its functions and line sequences instead.
      Cu& unit = decoded(index);
      for (const ScopeRange& r : unit.ranges) {
        if (r.parent == 0) cu_ranges.add(CuRange{r.start, r.end, index});
      }
      const LineRow* sequence_start = nullptr;
      for (const LineRow& row : unit.lines.rows) {
        if (sequence_start == nullptr && !row.end_sequence) sequence_start = &row;
        if (row.end_sequence && sequence_start != nullptr) {
          if (row.address > sequence_start->address && sequence_start->address != 0) {
            cu_ranges.add(CuRange{sequence_start->address, row.address, index});
          }
          sequence_start = nullptr;
        }
      }
    }
  }
  // Units lost to damage must be heard of: their addresses come out as "??". One line per file.
  // (status 1 is the end of .debug_info; -1 a unit header libdw cannot read, which ends the walk.)
  if ((unreadable > 0 || status < 0) && errors.size() < 8) {
    std::string what;
    if (unreadable > 0) {
      what = fmt::format("{} unreadable {} (the first {})", unreadable,
                         unreadable == 1 ? "unit" : "units", first_unreadable);
    }
    if (status < 0) {
      what += fmt::format("{}an unreadable unit header at offset {} ({}) ends it",
                          what.empty() ? "" : "; ", offset, dwarf_errmsg(-1));
    }
    errors.push_back(fmt::format("{}: .debug_info: {}; the functions there are not named from the "
                                 "debug information",
                                 file_name, what));
  }
  cu_ranges.finish();
}

Cu& DwarfIndex::Impl::decoded(uint32_t index) {
  Cu& cu = cus[index];
  if (cu.decoded) return cu;
  decode(cu);
  decode_order.push_back(index);
  decoded_bytes += cu.bytes;
  // Bounded: the oldest decoded units go first, never the one just decoded.
  while (decoded_bytes > settings.max_bytes && decode_order.size() > 1) {
    Cu& old = cus[decode_order.front()];
    decode_order.pop_front();
    decoded_bytes -= old.bytes;
    old.release();
  }
  return cu;
}

void DwarfIndex::Impl::decode(Cu& cu) {
  cu.decoded = true;
  if (settings.line_numbers) decode_lines(cu);
  decode_scopes(cu);
  cu.bytes = sizeof(Cu) + cu.lines.memory_bytes() + cu.scopes.capacity() * sizeof(Scope) +
             cu.ranges.capacity() * sizeof(ScopeRange) + cu.max_end.capacity() * sizeof(uint64_t);
}

void DwarfIndex::Impl::decode_lines(Cu& cu) {
  Dwarf_Attribute attr;
  Dwarf_Word offset = 0;
  if (dwarf_attr(&cu.die, DW_AT_stmt_list, &attr) == nullptr || dwarf_formudata(&attr, &offset) != 0) {
    return;  // a unit without line information
  }
  const char* comp_dir = nullptr;
  if (dwarf_attr(&cu.die, DW_AT_comp_dir, &attr) != nullptr) comp_dir = dwarf_formstring(&attr);
  auto decoded = decode_line_table(sections, offset, comp_dir != nullptr ? comp_dir : "", cu.lines);
  // What was decoded before the problem is kept; the problem is reported once (a few per file).
  if (!decoded && !cu.line_error_reported && errors.size() < 8) {
    cu.line_error_reported = true;
    errors.push_back(file_name + ": " + decoded.error().message());
  }
}

void DwarfIndex::Impl::decode_scopes(Cu& cu) {
  cu.scopes.push_back(Scope{});  // the root
  bool read = false;
  if (!settings.libdw_walk && !info_sections.info.empty() && !info_sections.abbrev.empty()) {
    auto ranges_of = [this](uint64_t die_offset, std::vector<std::pair<uint64_t, uint64_t>>& out) {
      Dwarf_Die die;
      if (dwarf_offdie(dwarf.get(), die_offset, &die) == nullptr) return;
      for_each_code_range(&die, [&](uint64_t s, uint64_t e) { out.emplace_back(s, e); });
    };
    read = read_scopes(info_sections, cu.layout, ranges_of, cu.scopes, cu.ranges);
    if (!read) {  // something the fast reader does not know: libdw reads everything
      cu.scopes.resize(1);
      cu.ranges.clear();
    }
  }
  if (!read) walk_scopes_with_libdw(cu);
  group_ranges(cu);
}

namespace {
// Groups the ranges by parent (each group sorted by start) so that a lookup descends the tree.
// A counting sort by parent keeps the walk's order within a group, which is nearly always already
// by address; a group is sorted only when it is not.
void group_ranges(Cu& cu) {
  std::vector<uint32_t> first(cu.scopes.size() + 1, 0);
  for (const ScopeRange& r : cu.ranges) ++first[r.parent + 1];
  for (size_t i = 1; i < first.size(); ++i) first[i] += first[i - 1];
  std::vector<ScopeRange> grouped(cu.ranges.size());
  std::vector<uint32_t> next(first.begin(), first.end() - 1);
  for (const ScopeRange& r : cu.ranges) grouped[next[r.parent]++] = r;
  cu.ranges = std::move(grouped);
  cu.max_end.resize(cu.ranges.size());
  auto by_start = [](const ScopeRange& a, const ScopeRange& b) {
    if (a.start != b.start) return a.start < b.start;
    return a.scope < b.scope;  // deterministic among equal starts: the DIE met first
  };
  for (size_t parent = 0; parent < cu.scopes.size(); ++parent) {
    auto begin = cu.ranges.begin() + first[parent];
    auto end = cu.ranges.begin() + first[parent + 1];
    if (!std::is_sorted(begin, end, by_start)) std::sort(begin, end, by_start);
    uint64_t max_end = 0;
    for (size_t i = first[parent]; i < first[parent + 1]; ++i) {
      max_end = std::max(max_end, cu.ranges[i].end);
      cu.max_end[i] = max_end;
    }
    cu.scopes[parent].children_first = first[parent];
    cu.scopes[parent].children_count = first[parent + 1] - first[parent];
  }
}
}  // namespace

// The same walk through libdw's DIE functions: for units the fast reader declines, and for tests
// that compare the two.
void DwarfIndex::Impl::walk_scopes_with_libdw(Cu& cu) {
  struct Pending {
    Dwarf_Die die;
    uint32_t scope;
    int depth;
    bool in_function;  // inside a function's DIE, with code or not (local classes live there)
  };
  std::vector<Pending> stack;
  Dwarf_Die child;
  if (dwarf_child(&cu.die, &child) == 0) stack.push_back(Pending{child, 0, 1, false});
  std::vector<std::pair<uint64_t, uint64_t>> die_ranges;
  while (!stack.empty()) {
    Pending current = stack.back();
    stack.pop_back();
    Dwarf_Die* die = &current.die;
    Dwarf_Die sibling;
    if (dwarf_siblingof(die, &sibling) == 0) {
      stack.push_back(Pending{sibling, current.scope, current.depth, current.in_function});
    }

    bool descend = false;
    bool in_function = current.in_function;
    uint32_t child_scope = current.scope;
    int tag = dwarf_tag(die);
    switch (tag) {
      case DW_TAG_subprogram:
      case DW_TAG_inlined_subroutine: {
        bool inlined = tag == DW_TAG_inlined_subroutine;
        die_ranges.clear();
        for_each_code_range(die, [&](uint64_t s, uint64_t e) { die_ranges.emplace_back(s, e); });
        if (die_ranges.empty()) {
          // An abstract instance or a declaration: no code of its own, but the code of a lambda
          // or local class defined in it is described inside it.
          descend = !inlined && dwarf_hasattr(die, DW_AT_declaration) == 0;
          in_function = true;
          break;
        }
        // Functions hang off the root even when nested in another (local classes, GNU C nested
        // functions): their code is not inside their lexical parent's code.
        uint32_t parent = inlined ? current.scope : 0;
        auto index = static_cast<uint32_t>(cu.scopes.size());
        Scope scope;
        scope.die = dwarf_dieoffset(die);
        if (inlined) {
          scope.call_file = udata_attr(die, DW_AT_call_file);
          scope.call_line = udata_attr(die, DW_AT_call_line);
          scope.call_column = udata_attr(die, DW_AT_call_column);
        }
        cu.scopes.push_back(scope);
        for (auto [s, e] : die_ranges) cu.ranges.push_back(ScopeRange{s, e, index, parent});
        descend = true;
        in_function = true;
        child_scope = index;
        break;
      }
      case DW_TAG_lexical_block:
      case DW_TAG_try_block:
      case DW_TAG_catch_block:
      case DW_TAG_namespace:
      case DW_TAG_module:
        descend = true;
        break;
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
        // Compilers put member function code outside the class, except for local classes: only
        // those are worth the walk through a class's members.
        descend = current.in_function;
        break;
      default:
        break;
    }
    if (descend && current.depth < kMaxDieDepth && dwarf_haschildren(die) > 0 &&
        dwarf_child(die, &child) == 0) {
      stack.push_back(Pending{child, child_scope, current.depth + 1, in_function});
    }
  }

}

const Name& DwarfIndex::Impl::name_of(Dwarf_Off offset) {
  if (auto it = names.find(offset); it != names.end()) return it->second;
  if (name_bytes > settings.max_bytes / 4) {  // bounded like everything else; cheap to rebuild
    names.clear();
    name_bytes = 0;
  }
  Name name;
  Dwarf_Die die;
  if (dwarf_offdie(dwarf.get(), offset, &die) != nullptr) {
    // Integrate: an inlined call or an out-of-line copy names its function through
    // DW_AT_abstract_origin, a member function through DW_AT_specification.
    const char* linkage = string_attr_integrate(&die, DW_AT_linkage_name);
    if (linkage == nullptr) linkage = string_attr_integrate(&die, DW_AT_MIPS_linkage_name);
    const char* plain = string_attr_integrate(&die, DW_AT_name);
    name.system_name = linkage != nullptr ? linkage : plain != nullptr ? plain : "";
    name.function = settings.demangle && linkage != nullptr
                        ? demangle(name.system_name, settings.full_names)
                        : name.system_name;
  }
  name_bytes += sizeof(Name) + 32 + name.function.capacity() + name.system_name.capacity();
  return names.emplace(offset, std::move(name)).first->second;
}

DwarfIndex::Found DwarfIndex::Impl::lookup(uint64_t address, std::vector<Frame>& frames) {
  if (!mapped) build_unit_map();
  const CuRange* unit = cu_ranges.find(address);
  if (unit == nullptr) return Found::kNothing;
  Cu& cu = decoded(unit->cu);

  // The chain of scopes containing the address, outermost (the function) first.
  uint32_t chain[kMaxDieDepth];
  size_t depth = 0;
  uint32_t scope = 0;
  while (depth < kMaxDieDepth) {
    const Scope& s = cu.scopes[scope];
    const ScopeRange* range = find_containing(cu.ranges.data() + s.children_first,
                                              cu.max_end.data() + s.children_first,
                                              s.children_count, address);
    if (range == nullptr || range->scope == scope) break;
    scope = range->scope;
    chain[depth++] = scope;
  }

  const LineRow* row = settings.line_numbers ? cu.lines.find(address) : nullptr;
  auto file_name = [&](uint32_t index) -> std::string {
    return index < cu.lines.files.size() ? cu.lines.files[index] : std::string();
  };

  if (depth == 0) {
    if (row == nullptr) return Found::kNothing;
    frames.push_back(Frame{"", "", file_name(row->file), row->line, static_cast<int64_t>(row->column)});
    return Found::kLine;
  }

  size_t first = settings.inline_frames ? 0 : depth - 1;  // index into frames, innermost first
  for (size_t k = depth; k-- > 0;) {
    size_t innermost_index = depth - 1 - k;  // 0 for chain[depth-1]
    if (innermost_index < first) continue;
    const Name& name = name_of(cu.scopes[chain[k]].die);
    Frame frame{name.function, name.system_name, "", 0, 0};
    if (settings.line_numbers) {
      if (k + 1 == depth) {
        if (row != nullptr) {
          frame.file = file_name(row->file);
          frame.line = row->line;
          frame.column = row->column;
        }
      } else {
        const Scope& callee = cu.scopes[chain[k + 1]];
        frame.file = file_name(callee.call_file);
        frame.line = callee.call_line;
        frame.column = callee.call_column;
      }
    }
    frames.push_back(std::move(frame));
  }
  return Found::kFunctions;
}

DwarfIndex::DwarfIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DwarfIndex::~DwarfIndex() = default;

bool DwarfIndex::has_debug_info(const elf::ElfFile& file) {
  return file.has_section_data(".debug_info") || file.has_section_data(".zdebug_info");
}

Result<std::unique_ptr<DwarfIndex>> DwarfIndex::open(const elf::ElfFile& file,
                                                      const Settings& settings) {
  if (!has_debug_info(file)) {
    return make_error(ErrorCode::kNotFound, file.name() + ": no DWARF (.debug_info)");
  }
  DwarfPtr dwarf(dwarf_begin_elf(file.handle(), DWARF_C_READ, nullptr));
  if (!dwarf) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: cannot read DWARF: {}", file.name(), dwarf_errmsg(-1)));
  }
  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  impl->file_name = file.name();
  impl->dwarf = std::move(dwarf);
  // The raw sections the line tables are decoded from. libdw has decompressed compressed
  // sections in place by now (SHF_COMPRESSED and .zdebug alike).
  auto section_data = [&](std::string_view name, std::string_view gnu_name) -> std::span<const std::byte> {
    const elf::SectionInfo* info = file.section(name);
    if (info == nullptr) info = file.section(gnu_name);
    if (info == nullptr || info->type == SHT_NOBITS) return {};
    Elf_Scn* scn = elf_getscn(file.handle(), info->index);
    Elf_Data* data = scn != nullptr ? elf_getdata(scn, nullptr) : nullptr;
    if (data == nullptr || data->d_buf == nullptr) return {};
    return {static_cast<const std::byte*>(data->d_buf), data->d_size};
  };
  impl->sections.debug_line = section_data(".debug_line", ".zdebug_line");
  impl->sections.debug_line_str = section_data(".debug_line_str", ".zdebug_line_str");
  impl->sections.debug_str = section_data(".debug_str", ".zdebug_str");
  impl->info_sections.info = section_data(".debug_info", ".zdebug_info");
  impl->info_sections.abbrev = section_data(".debug_abbrev", ".zdebug_abbrev");
  impl->info_sections.addr = section_data(".debug_addr", ".zdebug_addr");
  impl->info_sections.ranges = section_data(".debug_ranges", ".zdebug_ranges");
  impl->info_sections.rnglists = section_data(".debug_rnglists", ".zdebug_rnglists");
  return std::unique_ptr<DwarfIndex>(new DwarfIndex(std::move(impl)));
}

DwarfIndex::Found DwarfIndex::lookup(uint64_t address, std::vector<Frame>& frames) {
  return impl_->lookup(address, frames);
}

size_t DwarfIndex::memory_bytes() const {
  return sizeof(Impl) + impl_->cus.capacity() * sizeof(Cu) + impl_->cu_ranges.memory_bytes() +
         impl_->decoded_bytes + impl_->name_bytes;
}

std::vector<std::string> DwarfIndex::take_errors() { return std::exchange(impl_->errors, {}); }

size_t DwarfIndex::compile_units() const { return impl_->cus.size(); }
size_t DwarfIndex::decoded_units() const { return impl_->decode_order.size(); }

}  // namespace ember::symbolizer
