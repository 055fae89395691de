#pragma once
// Aligned text columns for terminal output (internal to analysis/).

#include <string>
#include <string_view>
#include <vector>

namespace ember::analysis {

class TextTable {
 public:
  struct Column {
    std::string header;
    bool right_aligned = true;
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }

  // Header and rows, each line prefixed with `indent`, columns two spaces apart. The last column
  // is not padded, so lines carry no trailing spaces. Widths count UTF-8 characters, not bytes.
  std::string format(std::string_view indent) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ember::analysis
