#include "analysis/text_table.h"

#include <algorithm>

namespace ember::analysis {

namespace {

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 lead bytes only
  return n;
}

}  // namespace

std::string TextTable::format(std::string_view indent) const {
  std::vector<size_t> width(columns_.size(), 0);
  for (size_t i = 0; i < columns_.size(); ++i) width[i] = display_width(columns_[i].header);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], display_width(row[i]));
    }
  }
  std::string out;
  auto emit = [&](auto cell_at) {
    std::string line(indent);
    for (size_t i = 0; i < columns_.size(); ++i) {
      std::string_view cell = cell_at(i);
      size_t pad = width[i] - std::min(width[i], display_width(cell));
      bool last = i + 1 == columns_.size();
      if (i != 0) line += "  ";
      if (columns_[i].right_aligned) line.append(pad, ' ');
      line += cell;
      if (!columns_[i].right_aligned && !last) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit([&](size_t i) -> std::string_view { return columns_[i].header; });
  for (const auto& row : rows_) {
    emit([&](size_t i) { return i < row.size() ? std::string_view(row[i]) : std::string_view(); });
  }
  return out;
}

}  // namespace ember::analysis
