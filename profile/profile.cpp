#include "profile/profile.h"

#include "common/checked.h"

#include <string>

namespace ember::profile {

MappingKind mapping_kind_from_filename(std::string_view filename) {
  if (filename.starts_with("[kernel") || filename.starts_with("[vmlinux") ||
      filename == "[kernel.kallsyms]" || filename.ends_with(".ko")) {
    return MappingKind::kKernel;
  }
  if (filename == "[vdso]" || filename == "[vsyscall]") return MappingKind::kVdso;
  if (filename == kPythonMappingName) return MappingKind::kPython;
  if (filename == "[jit]" || (filename.find("perf-") != std::string_view::npos &&
                              filename.ends_with(".map"))) {
    return MappingKind::kJit;
  }
  if (filename.empty() || filename.starts_with("[") || filename.starts_with("//anon")) {
    return MappingKind::kAnonymous;
  }
  return MappingKind::kFile;
}

size_t Profile::default_value_index() const {
  if (sample_types.empty()) return 0;
  std::string_view wanted = str(default_sample_type);
  if (!wanted.empty()) {
    for (size_t i = 0; i < sample_types.size(); ++i) {
      if (str(sample_types[i].type) == wanted) return i;
    }
  }
  return sample_types.size() - 1;
}

Result<size_t> Profile::value_index(std::string_view type) const {
  std::string known;
  for (size_t i = 0; i < sample_types.size(); ++i) {
    if (str(sample_types[i].type) == type) return i;
    if (!known.empty()) known += ", ";
    known += str(sample_types[i].type);
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "no sample type '" + std::string(type) + "' (the profile has: " + known + ")");
}

Result<size_t> Profile::choose_value_index(std::optional<std::string_view> type) const {
  if (type) return value_index(*type);
  return default_value_index();
}

int64_t Profile::total(size_t value_index) const {
  int64_t sum = 0;
  for (const Sample& s : samples) {
    if (value_index < s.values.size()) sum = common::saturating_add(sum, s.values[value_index]);
  }
  return sum;
}

std::optional<int64_t> Profile::num_label(const Sample& s, std::string_view key) const {
  for (const Label& l : s.labels) {
    if (str(l.key) == key && l.str.value == 0) return l.num;
  }
  return std::nullopt;
}

std::string_view Profile::str_label(const Sample& s, std::string_view key) const {
  for (const Label& l : s.labels) {
    if (str(l.key) == key) return str(l.str);
  }
  return {};
}

}  // namespace ember::profile
