#pragma once
// How values read in tooltips: "1,234 samples", "12.35 ms of CPU", "1.50 MiB".

#include <cstdint>
#include <string>
#include <string_view>

namespace ember::flamegraph {

class ValueFormat {
 public:
  // `type`/`unit` as in FoldedStacks (pprof's sample type); `count_name` overrides the noun for
  // counts when not empty.
  ValueFormat(std::string_view type, std::string_view unit, std::string_view count_name = {});

  // Appends "1,234 samples" / "12.35 ms of CPU". Plain text: escape before putting it in XML.
  void append(std::string& out, int64_t value) const;
  // Appends "120 → 240 samples" / "1.20 s → 2.40 s of CPU".
  void append_change(std::string& out, int64_t before, int64_t after) const;

 private:
  enum class Kind { kCount, kNanoseconds, kBytes };
  void append_number(std::string& out, int64_t value) const;
  void append_suffix(std::string& out, bool singular) const;

  Kind kind_ = Kind::kCount;
  std::string noun_;       // "samples"; empty for time and bytes
  std::string qualifier_;  // " of CPU" after a time
};

// "1,234,567"
void append_grouped(std::string& out, int64_t value);
// "12.34%" of `part / whole` (0% when whole is 0).
void append_percent(std::string& out, double part, double whole);

}  // namespace ember::flamegraph
