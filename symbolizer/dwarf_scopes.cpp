#include "symbolizer/dwarf_scopes.h"

#include <dwarf.h>

#include <unordered_map>

#include "common/byte_reader.h"

namespace ember::symbolizer {

namespace {

struct AttributeSpec {
  uint32_t name;
  uint32_t form;
  int64_t implicit_const;
  int32_t size = -1;  // the value's size when the form fixes it (set per unit), else -1
};

struct Abbrev {
  uint32_t tag = 0;
  bool children = false;
  uint32_t first = 0;  // into AbbrevTable::specs
  uint32_t count = 0;
  int64_t fixed_size = -1;  // bytes of all attributes when every form has a fixed size, else -1
  // Where DW_AT_sibling is within the attributes, when everything before it has a fixed size:
  // a subtree without code is then jumped over without reading a single attribute.
  int64_t sibling_pos = -1;
  uint32_t sibling_form = 0;
};

class AbbrevTable {
 public:
  bool parse(std::span<const std::byte> section, uint64_t offset) {
    common::ByteReader r(section, offset, section.size());
    if (!r.ok()) return false;
    for (;;) {
      uint64_t code = r.uleb();
      if (!r.ok()) return false;
      if (code == 0) return true;
      Abbrev a;
      a.tag = static_cast<uint32_t>(r.uleb());
      a.children = r.u8() != 0;
      a.first = static_cast<uint32_t>(specs_.size());
      for (;;) {
        uint64_t name = r.uleb();
        uint64_t form = r.uleb();
        if (!r.ok()) return false;
        if (name == 0 && form == 0) break;
        int64_t implicit = form == DW_FORM_implicit_const ? r.sleb() : 0;
        specs_.push_back(AttributeSpec{static_cast<uint32_t>(name), static_cast<uint32_t>(form), implicit, -1});
      }
      a.count = static_cast<uint32_t>(specs_.size()) - a.first;
      if (code < 65536) {  // codes are small and dense in practice: a vector
        if (dense_.size() <= code) dense_.resize(code + 1);
        dense_[code] = a;
        dense_[code].tag |= kPresent;
      } else {
        sparse_[code] = a;
      }
    }
  }

  const Abbrev* find(uint64_t code) const {
    if (code < dense_.size()) return (dense_[code].tag & kPresent) != 0 ? &dense_[code] : nullptr;
    auto it = sparse_.find(code);
    return it != sparse_.end() ? &it->second : nullptr;
  }
  const AttributeSpec* specs(const Abbrev& a) const { return specs_.data() + a.first; }
  static uint32_t tag(const Abbrev& a) { return a.tag & ~kPresent; }
  std::vector<Abbrev>& dense() { return dense_; }
  std::vector<AttributeSpec>& all_specs() { return specs_; }

 private:
  static constexpr uint32_t kPresent = 0x80000000u;
  std::vector<Abbrev> dense_;
  std::unordered_map<uint64_t, Abbrev> sparse_;
  std::vector<AttributeSpec> specs_;
};

// Size of a form's value when it does not depend on the data; -1 when it does; -2 when the form
// is unknown.
int fixed_form_size(uint32_t form, const UnitLayout& unit) {
  switch (form) {
    case DW_FORM_flag_present:
    case DW_FORM_implicit_const:
      return 0;
    case DW_FORM_data1:
    case DW_FORM_ref1:
    case DW_FORM_flag:
    case DW_FORM_strx1:
    case DW_FORM_addrx1:
      return 1;
    case DW_FORM_data2:
    case DW_FORM_ref2:
    case DW_FORM_strx2:
    case DW_FORM_addrx2:
      return 2;
    case DW_FORM_strx3:
    case DW_FORM_addrx3:
      return 3;
    case DW_FORM_data4:
    case DW_FORM_ref4:
    case DW_FORM_ref_sup4:
    case DW_FORM_strx4:
    case DW_FORM_addrx4:
      return 4;
    case DW_FORM_data8:
    case DW_FORM_ref8:
    case DW_FORM_ref_sig8:
    case DW_FORM_ref_sup8:
      return 8;
    case DW_FORM_data16:
      return 16;
    case DW_FORM_addr:
      return unit.address_size;
    case DW_FORM_ref_addr:
      return unit.version <= 2 ? unit.address_size : unit.offset_size;
    case DW_FORM_strp:
    case DW_FORM_line_strp:
    case DW_FORM_sec_offset:
    case DW_FORM_strp_sup:
    case DW_FORM_GNU_ref_alt:
    case DW_FORM_GNU_strp_alt:
      return unit.offset_size;
    case DW_FORM_string:
    case DW_FORM_block:
    case DW_FORM_block1:
    case DW_FORM_block2:
    case DW_FORM_block4:
    case DW_FORM_exprloc:
    case DW_FORM_sdata:
    case DW_FORM_udata:
    case DW_FORM_ref_udata:
    case DW_FORM_strx:
    case DW_FORM_addrx:
    case DW_FORM_loclistx:
    case DW_FORM_rnglistx:
    case DW_FORM_indirect:
    case DW_FORM_GNU_addr_index:
    case DW_FORM_GNU_str_index:
      return -1;
    default:
      return -2;
  }
}

// Reads one attribute value: numbers (and references, addresses) as unsigned, everything else
// skipped. False on an unknown form.
bool read_value(common::ByteReader& r, uint32_t form, int64_t implicit_const, const UnitLayout& unit, uint64_t& value) {
  value = 0;
  switch (form) {
    case DW_FORM_flag_present:
      value = 1;
      return true;
    case DW_FORM_implicit_const:
      value = static_cast<uint64_t>(implicit_const);
      return true;
    case DW_FORM_string:
      r.cstr();
      return true;
    case DW_FORM_block:
    case DW_FORM_exprloc:
      r.skip(r.uleb());
      return true;
    case DW_FORM_block1:
      r.skip(r.u8());
      return true;
    case DW_FORM_block2:
      r.skip(r.u16());
      return true;
    case DW_FORM_block4:
      r.skip(r.u32());
      return true;
    case DW_FORM_sdata:
      value = static_cast<uint64_t>(r.sleb());
      return true;
    case DW_FORM_udata:
    case DW_FORM_ref_udata:
    case DW_FORM_strx:
    case DW_FORM_addrx:
    case DW_FORM_loclistx:
    case DW_FORM_rnglistx:
    case DW_FORM_GNU_addr_index:
    case DW_FORM_GNU_str_index:
      value = r.uleb();
      return true;
    case DW_FORM_indirect: {
      uint64_t actual = r.uleb();
      if (!r.ok() || actual == DW_FORM_indirect || actual > UINT32_MAX) return false;
      return read_value(r, static_cast<uint32_t>(actual), implicit_const, unit, value);
    }
    default: {
      int size = fixed_form_size(form, unit);
      if (size < 0) return false;
      if (size <= 8) {
        value = r.fixed(static_cast<size_t>(size));
      } else {
        r.skip(static_cast<size_t>(size));
      }
      return true;
    }
  }
}

bool is_addrx(uint32_t form) {
  return form == DW_FORM_addrx || form == DW_FORM_addrx1 || form == DW_FORM_addrx2 ||
         form == DW_FORM_addrx3 || form == DW_FORM_addrx4 || form == DW_FORM_GNU_addr_index;
}

bool is_reference(uint32_t form) {
  return form == DW_FORM_ref1 || form == DW_FORM_ref2 || form == DW_FORM_ref4 || form == DW_FORM_ref8 ||
         form == DW_FORM_ref_udata;
}

// The tags whose children can hold code: walked into (the rest is skipped, by DW_AT_sibling when
// the producer gave one).
enum class Kind { kSkip, kFunction, kInlined, kBlock, kClass };

Kind kind_of(uint32_t tag) {
  switch (tag) {
    case DW_TAG_subprogram:
      return Kind::kFunction;
    case DW_TAG_inlined_subroutine:
      return Kind::kInlined;
    case DW_TAG_lexical_block:
    case DW_TAG_try_block:
    case DW_TAG_catch_block:
    case DW_TAG_namespace:
    case DW_TAG_module:
      return Kind::kBlock;
    case DW_TAG_class_type:
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
      return Kind::kClass;
    default:
      return Kind::kSkip;
  }
}

// An entry of .debug_addr (DW_FORM_addrx and DW_RLE_*x entries).
std::optional<uint64_t> indexed_address(const DebugInfoSections& sections, const UnitLayout& unit,
                                        uint64_t index) {
  if (!unit.addr_base || index > (sections.addr.size() / unit.address_size)) return std::nullopt;
  common::ByteReader r(sections.addr, *unit.addr_base + index * unit.address_size, sections.addr.size());
  uint64_t address = r.fixed(unit.address_size);
  if (!r.ok()) return std::nullopt;
  return address;
}

}  // namespace

bool read_range_list(const DebugInfoSections& sections, const UnitLayout& unit, uint32_t form, uint64_t value,
                     std::vector<std::pair<uint64_t, uint64_t>>& out) {
  constexpr int kMaxEntries = 1 << 16;  // a range list cannot be this long in real code
  uint64_t base = unit.base_address;
  if (unit.version < 5) {
    // .debug_ranges: (start, end) pairs relative to the base, (0, 0) ends the list, and a start
    // of all ones selects a new base.
    if (sections.ranges.empty() || value >= sections.ranges.size()) return false;
    common::ByteReader r(sections.ranges, value, sections.ranges.size());
    uint64_t all_ones = unit.address_size == 4 ? 0xffffffffu : UINT64_MAX;
    for (int i = 0; i < kMaxEntries; ++i) {
      uint64_t start = r.fixed(unit.address_size);
      uint64_t end = r.fixed(unit.address_size);
      if (!r.ok()) return false;
      if (start == 0 && end == 0) return true;
      if (start == all_ones) {
        base = end;
        continue;
      }
      out.emplace_back(base + start, base + end);
    }
    return false;
  }

  if (sections.rnglists.empty()) return false;
  uint64_t offset = value;
  if (form == DW_FORM_rnglistx) {
    // An index into the offsets that follow the list table's header (at rnglists_base).
    if (!unit.rnglists_base) return false;
    common::ByteReader table(sections.rnglists, *unit.rnglists_base + value * unit.offset_size, sections.rnglists.size());
    offset = *unit.rnglists_base + table.fixed(unit.offset_size);
    if (!table.ok()) return false;
  }
  if (offset >= sections.rnglists.size()) return false;
  common::ByteReader r(sections.rnglists, offset, sections.rnglists.size());
  for (int i = 0; i < kMaxEntries; ++i) {
    uint8_t kind = r.u8();
    if (!r.ok()) return false;
    switch (kind) {
      case DW_RLE_end_of_list:
        return true;
      case DW_RLE_base_addressx: {
        auto address = indexed_address(sections, unit, r.uleb());
        if (!address) return false;
        base = *address;
        break;
      }
      case DW_RLE_startx_endx: {
        auto start = indexed_address(sections, unit, r.uleb());
        auto end = indexed_address(sections, unit, r.uleb());
        if (!start || !end) return false;
        out.emplace_back(*start, *end);
        break;
      }
      case DW_RLE_startx_length: {
        auto start = indexed_address(sections, unit, r.uleb());
        uint64_t length = r.uleb();
        if (!start) return false;
        out.emplace_back(*start, *start + length);
        break;
      }
      case DW_RLE_offset_pair: {
        uint64_t start = r.uleb();
        uint64_t end = r.uleb();
        out.emplace_back(base + start, base + end);
        break;
      }
      case DW_RLE_base_address:
        base = r.fixed(unit.address_size);
        break;
      case DW_RLE_start_end: {
        uint64_t start = r.fixed(unit.address_size);
        uint64_t end = r.fixed(unit.address_size);
        out.emplace_back(start, end);
        break;
      }
      case DW_RLE_start_length: {
        uint64_t start = r.fixed(unit.address_size);
        uint64_t length = r.uleb();
        out.emplace_back(start, start + length);
        break;
      }
      default:
        return false;
    }
    if (!r.ok()) return false;
  }
  return false;
}

bool read_scopes(const DebugInfoSections& sections, const UnitLayout& unit, const RangesOf& ranges_of,
                 std::vector<Scope>& scopes, std::vector<ScopeRange>& ranges) {
  AbbrevTable abbrevs;
  if (!abbrevs.parse(sections.abbrev, unit.abbrev_offset)) return false;
  for (AttributeSpec& spec : abbrevs.all_specs()) {
    int size = fixed_form_size(spec.form, unit);
    // implicit_const and flag_present carry their value in the abbreviation, not in the DIE.
    spec.size = spec.form == DW_FORM_implicit_const || spec.form == DW_FORM_flag_present ? -1 : size;
  }
  for (Abbrev& a : abbrevs.dense()) {
    if (a.count == 0 && a.tag == 0) continue;
    int64_t total = 0;
    for (uint32_t i = 0; i < a.count; ++i) {
      const AttributeSpec& spec = abbrevs.specs(a)[i];
      int size = fixed_form_size(spec.form, unit);
      if (size == -2) return false;
      if (spec.name == DW_AT_sibling && total >= 0 && is_reference(spec.form) && size > 0) {
        a.sibling_pos = total;
        a.sibling_form = spec.form;
      }
      total = size < 0 || total < 0 ? -1 : total + size;
    }
    a.fixed_size = total;
  }

  struct Level {
    uint32_t scope;
    bool in_function;
    bool skipping;  // inside a subtree without code: read to skip only
  };
  std::vector<Level> levels;
  common::ByteReader r(sections.info, unit.die_offset, unit.end);
  std::vector<std::pair<uint64_t, uint64_t>> die_ranges;

  // The unit's DIE: its children are the top level.
  {
    uint64_t code = r.uleb();
    const Abbrev* a = r.ok() ? abbrevs.find(code) : nullptr;
    if (a == nullptr) return false;
    const AttributeSpec* specs = abbrevs.specs(*a);
    uint64_t ignored;
    for (uint32_t i = 0; i < a->count; ++i) {
      if (!read_value(r, specs[i].form, specs[i].implicit_const, unit, ignored)) return false;
    }
    if (!r.ok() || !a->children) return r.ok();
    levels.push_back(Level{0, false, false});
  }

  while (!levels.empty() && !r.at_end()) {
    uint64_t die_offset = r.pos();
    uint64_t code = r.uleb();
    if (!r.ok()) return false;
    if (code == 0) {  // the end of a list of children
      levels.pop_back();
      continue;
    }
    const Abbrev* a = abbrevs.find(code);
    if (a == nullptr) return false;
    const Level parent = levels.back();
    Kind kind = parent.skipping ? Kind::kSkip : kind_of(AbbrevTable::tag(*a));

    if (kind == Kind::kSkip && a->children && a->sibling_pos >= 0) {
      size_t attributes = r.pos();
      r.skip(static_cast<uint64_t>(a->sibling_pos));
      uint64_t sibling = unit.unit_offset + r.fixed(static_cast<size_t>(fixed_form_size(a->sibling_form, unit)));
      if (r.ok() && sibling > die_offset && sibling <= unit.end) {
        r.seek(sibling);
        continue;
      }
      r.seek(attributes);  // a sibling that points nowhere useful: read the subtree instead
    }
    if (kind == Kind::kSkip && a->fixed_size >= 0) {
      r.skip(static_cast<uint64_t>(a->fixed_size));
      if (a->children) levels.push_back(Level{parent.scope, parent.in_function, true});
      continue;
    }

    // Read the attributes, keeping the few that matter.
    const AttributeSpec* specs = abbrevs.specs(*a);
    uint64_t low = 0, high = 0, sibling = 0, call_file = 0, call_line = 0, call_column = 0;
    bool has_low = false, has_high = false, high_is_offset = false, has_ranges = false;
    bool low_is_index = false, declaration = false, has_sibling = false;
    uint64_t ranges_value = 0;
    uint32_t ranges_form = 0;
    for (uint32_t i = 0; i < a->count; ++i) {
      uint64_t value;
      const AttributeSpec& spec = specs[i];
      if (spec.size >= 0 && spec.size <= 8) {
        value = r.fixed(static_cast<size_t>(spec.size));
      } else if (!read_value(r, spec.form, spec.implicit_const, unit, value)) {
        return false;
      }
      if (kind == Kind::kSkip && spec.name != DW_AT_sibling) continue;
      switch (spec.name) {
        case DW_AT_low_pc:
          low = value;
          has_low = true;
          low_is_index = is_addrx(spec.form);
          break;
        case DW_AT_high_pc:
          high = value;
          has_high = true;
          high_is_offset = spec.form != DW_FORM_addr && !is_addrx(spec.form);
          if (is_addrx(spec.form)) has_ranges = true;  // rare: libdw resolves it (ranges_form 0)
          break;
        case DW_AT_ranges:
          has_ranges = true;
          ranges_value = value;
          ranges_form = spec.form;
          break;
        case DW_AT_declaration:
          declaration = value != 0;
          break;
        case DW_AT_call_file:
          call_file = value;
          break;
        case DW_AT_call_line:
          call_line = value;
          break;
        case DW_AT_call_column:
          call_column = value;
          break;
        case DW_AT_sibling:
          if (is_reference(spec.form)) {
            sibling = unit.unit_offset + value;
            has_sibling = true;
          }
          break;
        default:
          break;
      }
    }
    if (!r.ok()) return false;

    bool descend = false;
    bool in_function = parent.in_function;
    uint32_t child_scope = parent.scope;
    if (kind == Kind::kFunction || kind == Kind::kInlined) {
      bool inlined = kind == Kind::kInlined;
      die_ranges.clear();
      if (has_ranges) {
        // GCC splits inlined calls into several ranges often: reading the list here rather than
        // through libdw halves the cold time of a large C++ program.
        if (ranges_form == 0 || !read_range_list(sections, unit, ranges_form, ranges_value, die_ranges)) {
          die_ranges.clear();
          ranges_of(die_offset, die_ranges);
        }
      } else if (has_low && has_high) {
        if (low_is_index) {
          auto address = indexed_address(sections, unit, low);
          if (address) {
            low = *address;
          } else {
            ranges_of(die_offset, die_ranges);
            low = 0;
          }
        }
        if (low != 0) {
          uint64_t end = high_is_offset ? low + high : high;
          if (is_code_range(low, end)) die_ranges.emplace_back(low, end);
        }
      }
      std::erase_if(die_ranges, [](const auto& range) { return !is_code_range(range.first, range.second); });
      if (die_ranges.empty()) {
        // An abstract instance or a declaration: no code of its own, but the code of a lambda or
        // local class defined in it is described inside it.
        descend = !inlined && !declaration;
        in_function = true;
      } else {
        // Functions hang off the root even when nested in another (local classes, GNU C nested
        // functions): their code is not inside their lexical parent's code.
        uint32_t parent_scope = inlined ? parent.scope : 0;
        auto index = static_cast<uint32_t>(scopes.size());
        Scope scope;
        scope.die = die_offset;
        if (inlined) {
          auto clamp = [](uint64_t v) { return v > UINT32_MAX ? 0u : static_cast<uint32_t>(v); };
          scope.call_file = clamp(call_file);
          scope.call_line = clamp(call_line);
          scope.call_column = clamp(call_column);
        }
        scopes.push_back(scope);
        for (auto [s, e] : die_ranges) ranges.push_back(ScopeRange{s, e, index, parent_scope});
        descend = true;
        in_function = true;
        child_scope = index;
      }
    } else if (kind == Kind::kBlock) {
      descend = true;
    } else if (kind == Kind::kClass) {
      // Compilers put member function code outside the class, except for local classes: only
      // those are worth the walk through a class's members.
      descend = parent.in_function;
    }

    if (!a->children) continue;
    if (descend && levels.size() < static_cast<size_t>(kMaxDieDepth)) {
      levels.push_back(Level{child_scope, in_function, false});
    } else if (has_sibling && sibling > die_offset && sibling <= unit.end) {
      r.seek(sibling);  // the producer says where the subtree ends
    } else {
      levels.push_back(Level{parent.scope, parent.in_function, true});
    }
  }
  return r.ok();
}

}  // namespace ember::symbolizer
