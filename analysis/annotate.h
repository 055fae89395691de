#pragma once
// `ember annotate`: a function's samples per source line, as `pprof -list` shows them.
//   flat: samples whose innermost frame is on the line (the line was executing);
//   cum:  samples with the line anywhere in their stack (each sample once per line, however
//         often the function recurses).
// Lines come from the profile (DWARF lines of ember's recordings, Go's pprof lines, Python
// frames); the caller reads the source files and passes what it found to the formatter.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/regex.h"
#include "profile/profile.h"

namespace ember::analysis {

struct LineValues {
  int64_t line = 0;  // 1-based; 0: samples without a line number
  int64_t flat = 0;
  int64_t cum = 0;
};

struct AnnotatedFunction {
  std::string name;
  std::string file;         // as recorded; "" when the profile has none
  int64_t start_line = 0;   // where the function begins, when the profile says (Go does)
  std::vector<LineValues> lines;  // by line number, only lines with samples
  int64_t flat = 0;
  int64_t cum = 0;           // each sample once
  int64_t last_line() const { return lines.empty() ? 0 : lines.back().line; }
  // The line with the most flat samples (ties: most cum); 0 when none has a number.
  int64_t hottest_line() const;
};

struct Annotation {
  std::vector<AnnotatedFunction> functions;  // most cum first, then by name
  int64_t total = 0;                         // of all samples (|value|), pprof's Total
  std::string unit;                          // of the chosen value: "count", "nanoseconds"
};

// The functions whose name matches `function` (anywhere in the name; anchor with ^ $), one per
// (name, file). Empty when none matches or none has samples.
Annotation annotate(const profile::Profile& profile, const common::Regex& function, size_t value_index);

// What the caller found of one function's source file.
struct SourceFile {
  std::vector<std::string> lines;  // line 1 first; shown only when `note` is empty
  std::string note;                // why no source is shown: "not found", "changed since..."
};

// pprof -list's layout: a ROUTINE header per function, then "flat cum LINE: source" rows, "." for
// zero, the hottest line marked "◀ hottest". With the source: the lines from the function's
// start (or 5 before its first sampled line) to 5 past its last; without: the sampled lines
// only, and the note once per file. `sources` has one entry per function.
std::string format_annotation_text(const Annotation& annotation, std::span<const SourceFile> sources);

}  // namespace ember::analysis
