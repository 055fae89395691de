#include "symbolizer/line_table.h"

#include "common/byte_reader.h"

#include <dwarf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace ember::symbolizer {

namespace {

// A string at `offset` in a string section (.debug_str, .debug_line_str).
std::optional<std::string_view> string_at(std::span<const std::byte> section, uint64_t offset) {
  if (offset >= section.size()) return std::nullopt;
  common::ByteReader r(section, offset, section.size());
  std::string_view s = r.cstr();
  if (!r.ok()) return std::nullopt;
  return s;
}

// One attribute value of a DWARF 5 directory or file entry.
struct FormValue {
  std::optional<std::string_view> string;
  uint64_t number = 0;
};

bool read_form(common::ByteReader& r, uint64_t form, bool offset64, const LineSections& sections, FormValue& out) {
  switch (form) {
    case DW_FORM_string:
      out.string = r.cstr();
      return r.ok();
    case DW_FORM_line_strp:
    case DW_FORM_strp: {
      uint64_t offset = offset64 ? r.u64() : r.u32();
      out.string = string_at(form == DW_FORM_line_strp ? sections.debug_line_str : sections.debug_str, offset);
      return r.ok() && out.string.has_value();
    }
    case DW_FORM_udata:
      out.number = r.uleb();
      return r.ok();
    case DW_FORM_sdata:
      out.number = static_cast<uint64_t>(r.sleb());
      return r.ok();
    case DW_FORM_data1:
      out.number = r.u8();
      return r.ok();
    case DW_FORM_data2:
      out.number = r.u16();
      return r.ok();
    case DW_FORM_data4:
      out.number = r.u32();
      return r.ok();
    case DW_FORM_data8:
      out.number = r.u64();
      return r.ok();
    case DW_FORM_data16:
      r.skip(16);
      return r.ok();
    case DW_FORM_block:
      r.skip(r.uleb());
      return r.ok();
    case DW_FORM_block1:
      r.skip(r.u8());
      return r.ok();
    case DW_FORM_block2:
      r.skip(r.u16());
      return r.ok();
    case DW_FORM_block4:
      r.skip(r.u32());
      return r.ok();
    default:
      return false;  // strx forms need .debug_str_offsets: not used in line tables by compilers
  }
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (name.starts_with('/') || dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out += '/';
  out += name;
  return out;
}

// Addresses of code the linker threw away: 0 (ld.bfd) or -1/-2 (lld's tombstones).
bool is_discarded(uint64_t address) { return address == 0 || address >= UINT64_MAX - 1 ||
                                             address == 0xffffffffu || address == 0xfffffffeu; }

}  // namespace

size_t LineTable::memory_bytes() const {
  size_t bytes = rows.capacity() * sizeof(LineRow) + files.capacity() * sizeof(std::string);
  for (const auto& f : files) bytes += f.capacity();
  return bytes;
}

const LineRow* LineTable::find(uint64_t address) const {
  auto it = std::upper_bound(rows.begin(), rows.end(), address,
                             [](uint64_t a, const LineRow& r) { return a < r.address; });
  if (it == rows.begin()) return nullptr;
  const LineRow& row = *std::prev(it);
  return row.end_sequence ? nullptr : &row;
}

Result<void> decode_line_table(const LineSections& sections, uint64_t offset, std::string_view comp_dir,
                               LineTable& out) {
  auto fail = [&](std::string_view what) {
    return make_error(ErrorCode::kMalformed, fmt::format("line table at .debug_line+0x{:x}: {}", offset, what));
  };
  const auto& data = sections.debug_line;
  if (offset >= data.size()) return fail("offset past the end of .debug_line");

  common::ByteReader r(data, offset, data.size());
  bool offset64 = false;
  uint64_t unit_length = r.u32();
  if (unit_length == 0xffffffffu) {
    offset64 = true;
    unit_length = r.u64();
  }
  if (!r.ok() || unit_length > data.size() - r.pos()) return fail("unit runs past the end of .debug_line");
  common::ByteReader unit(data, r.pos(), r.pos() + unit_length);
  uint16_t version = unit.u16();
  if (version < 2 || version > 5) return fail(fmt::format("unsupported version {}", version));
  if (version >= 5) {
    unit.u8();  // address_size: DW_LNE_set_address says it again
    if (unit.u8() != 0) return fail("segmented addresses are not supported");
  }
  uint64_t header_length = offset64 ? unit.u64() : unit.u32();
  if (!unit.ok() || header_length > unit.end() - unit.pos()) return fail("header runs past the unit");
  size_t program_start = unit.pos() + header_length;
  uint8_t min_inst_length = unit.u8();
  uint8_t max_ops = version >= 4 ? unit.u8() : 1;
  bool default_is_stmt = unit.u8() != 0;
  (void)default_is_stmt;  // every row is kept; is_stmt does not change which line an address has
  auto line_base = static_cast<int8_t>(unit.u8());
  uint8_t line_range = unit.u8();
  uint8_t opcode_base = unit.u8();
  if (!unit.ok() || line_range == 0 || opcode_base == 0) return fail("bad header");
  if (max_ops == 0) max_ops = 1;
  std::vector<uint8_t> standard_lengths(opcode_base, 0);
  for (int i = 1; i < opcode_base; ++i) standard_lengths[i] = unit.u8();

  std::vector<std::string> dirs;
  out.files.clear();
  if (version < 5) {
    dirs.emplace_back(comp_dir);  // directory 0 is the compilation directory
    for (;;) {
      std::string_view dir = unit.cstr();
      if (!unit.ok()) return fail("include_directories run past the header");
      if (dir.empty()) break;
      dirs.push_back(dir.starts_with('/') ? std::string(dir) : join_path(comp_dir, dir));
    }
    out.files.emplace_back();  // file numbers start at 1
    for (;;) {
      std::string_view name = unit.cstr();
      if (!unit.ok()) return fail("file_names run past the header");
      if (name.empty()) break;
      uint64_t dir = unit.uleb();
      unit.uleb();  // modification time
      unit.uleb();  // length
      out.files.push_back(join_path(dir < dirs.size() ? dirs[dir] : std::string_view(), name));
    }
  } else {
    // Entry formats: (content type, form) pairs, then the entries.
    auto read_entries = [&](bool files) -> bool {
      uint8_t format_count = unit.u8();
      std::vector<std::pair<uint64_t, uint64_t>> format(format_count);
      for (auto& [type, form] : format) {
        type = unit.uleb();
        form = unit.uleb();
      }
      uint64_t count = unit.uleb();
      if (!unit.ok() || count > unit.end() - unit.pos()) return false;  // at least a byte each
      for (uint64_t i = 0; i < count; ++i) {
        std::string_view path;
        uint64_t dir = 0;
        for (auto [type, form] : format) {
          FormValue value;
          if (!read_form(unit, form, offset64, sections, value)) return false;
          if (type == DW_LNCT_path && value.string) path = *value.string;
          if (type == DW_LNCT_directory_index) dir = value.number;
        }
        if (files) {
          out.files.push_back(join_path(dir < dirs.size() ? dirs[dir] : std::string_view(), path));
        } else {
          // Directory 0 is the compilation directory; others may be relative to it.
          std::string_view base = dirs.empty() ? comp_dir : std::string_view(dirs[0]);
          dirs.push_back(path.starts_with('/') ? std::string(path) : join_path(base, path));
        }
      }
      return true;
    };
    if (!read_entries(false)) return fail("bad directory table");
    if (!read_entries(true)) return fail("bad file table");
  }
  if (!unit.ok() || program_start > unit.end()) return fail("header runs past the unit");

  // The program: a state machine emitting rows, sequence by sequence.
  unit.seek(program_start);
  struct Sequence {
    size_t first;
    size_t count;
  };
  // Rows go straight into the table; sequences are reordered afterwards only if they came out of
  // address order (compilers emit them in order for the usual one-section-per-unit layout).
  std::vector<LineRow>& rows = out.rows;
  rows.clear();
  rows.reserve((unit.end() - program_start) / 3);  // about a row per 2-4 bytes of program
  std::vector<Sequence> sequences;
  size_t sequence_first = 0;
  uint64_t address = 0;
  uint64_t op_index = 0;
  uint32_t file = 1;
  int64_t line = 1;
  uint64_t column = 0;
  bool discarded = false;
  auto reset = [&] {
    address = 0;
    op_index = 0;
    file = 1;
    line = 1;
    column = 0;
    discarded = false;
  };
  auto emit = [&](bool end_sequence) {
    if (discarded) return;
    rows.push_back(LineRow{address, file, static_cast<uint32_t>(std::clamp<int64_t>(line, 0, UINT32_MAX)),
                           static_cast<uint32_t>(std::min<uint64_t>(column, 0x7fffffff)),
                           end_sequence ? 1u : 0u});
  };
  auto advance = [&](uint64_t operation_advance) {
    if (max_ops == 1) {
      address += min_inst_length * operation_advance;
    } else {  // VLIW: op_index counts operations within an instruction
      address += min_inst_length * ((op_index + operation_advance) / max_ops);
      op_index = (op_index + operation_advance) % max_ops;
    }
  };
  std::string problem;
  while (!unit.at_end()) {
    uint8_t opcode = unit.u8();
    if (opcode >= opcode_base) {
      uint8_t adjusted = opcode - opcode_base;
      advance(adjusted / line_range);
      line += line_base + adjusted % line_range;
      emit(false);
      continue;
    }
    switch (opcode) {
      case 0: {  // extended
        uint64_t length = unit.uleb();
        if (!unit.ok() || length == 0 || length > unit.end() - unit.pos()) {
          problem = "bad extended opcode";
          break;
        }
        size_t next = unit.pos() + length;
        uint8_t sub = unit.u8();
        if (sub == DW_LNE_end_sequence) {
          // Rows at the end address cover no byte: dropping them keeps the table sorted with
          // the end row first at that address.
          while (rows.size() > sequence_first && rows.back().address == address) rows.pop_back();
          emit(true);
          if (!discarded && rows.size() > sequence_first) {
            sequences.push_back(Sequence{sequence_first, rows.size() - sequence_first});
          }
          sequence_first = rows.size();
          reset();
        } else if (sub == DW_LNE_set_address) {
          size_t size = length - 1;
          address = size == 4 || size == 8 ? unit.fixed(size) : 0;
          op_index = 0;
          if (is_discarded(address)) {
            discarded = true;
            rows.resize(sequence_first);  // the rest of this sequence is thrown-away code too
          } else {
            discarded = false;
          }
        } else if (sub == DW_LNE_define_file && version < 5) {
          std::string_view name = unit.cstr();
          uint64_t dir = unit.uleb();
          out.files.push_back(join_path(dir < dirs.size() ? dirs[dir] : std::string_view(), name));
        }
        unit.seek(next);
        break;
      }
      case DW_LNS_copy:
        emit(false);
        break;
      case DW_LNS_advance_pc:
        advance(unit.uleb());
        break;
      case DW_LNS_advance_line:
        line += unit.sleb();
        break;
      case DW_LNS_set_file:
        file = static_cast<uint32_t>(std::min<uint64_t>(unit.uleb(), UINT32_MAX));
        break;
      case DW_LNS_set_column:
        column = unit.uleb();
        break;
      case DW_LNS_const_add_pc:
        advance((255 - opcode_base) / line_range);
        break;
      case DW_LNS_fixed_advance_pc:
        address += unit.u16();
        op_index = 0;
        break;
      case DW_LNS_negate_stmt:
      case DW_LNS_set_basic_block:
      case DW_LNS_set_prologue_end:
      case DW_LNS_set_epilogue_begin:
        break;
      case DW_LNS_set_isa:
        unit.uleb();
        break;
      default:  // a standard opcode this decoder does not know: skip its operands
        for (int i = 0; i < standard_lengths[opcode]; ++i) unit.uleb();
        break;
    }
    if (!problem.empty()) break;
    if (!unit.ok()) {
      problem = "program runs past the unit";
      break;
    }
  }
  rows.resize(sequence_first);  // an unterminated sequence is not trusted

  auto in_order = [](const LineRow& a, const LineRow& b) {
    if (a.address != b.address) return a.address < b.address;
    return a.end_sequence > b.end_sequence;
  };
  if (!std::is_sorted(rows.begin(), rows.end(), in_order)) {
    // Sequences are sorted within themselves: put them in order of their starts, and sort
    // everything only when they overlap (hand-written assembly, odd linkers).
    std::stable_sort(sequences.begin(), sequences.end(), [&](const Sequence& a, const Sequence& b) {
      return rows[a.first].address < rows[b.first].address;
    });
    std::vector<LineRow> ordered;
    ordered.reserve(rows.size());
    for (const Sequence& seq : sequences) {
      ordered.insert(ordered.end(), rows.begin() + seq.first, rows.begin() + seq.first + seq.count);
    }
    if (!std::is_sorted(ordered.begin(), ordered.end(), in_order)) {
      std::stable_sort(ordered.begin(), ordered.end(), in_order);
    }
    rows = std::move(ordered);
  }
  if (!problem.empty()) return fail(problem);
  return {};
}

}  // namespace ember::symbolizer
