#include "analysis/annotate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "analysis/units.h"
#include "common/checked.h"

namespace ember::analysis {

namespace {

constexpr int64_t kContextLines = 5;  // as pprof -list shows around the sampled lines

}  // namespace

int64_t AnnotatedFunction::hottest_line() const {
  const LineValues* best = nullptr;
  for (const LineValues& l : lines) {
    if (l.line <= 0) continue;
    if (best == nullptr || l.flat > best->flat || (l.flat == best->flat && l.cum > best->cum)) best = &l;
  }
  return best == nullptr || (best->flat == 0 && best->cum == 0) ? 0 : best->line;
}

Annotation annotate(const profile::Profile& profile, const common::Regex& function, size_t value_index) {
  Annotation out;
  if (value_index < profile.sample_types.size()) out.unit = profile.str(profile.sample_types[value_index].unit);
  // Per function id: which annotated function it belongs to (matching is tested once per id).
  constexpr uint32_t kUnknown = UINT32_MAX - 1, kNoMatch = UINT32_MAX;
  std::vector<uint32_t> slot(profile.functions.size(), kUnknown);
  std::map<std::pair<std::string, std::string>, uint32_t> by_name_and_file;
  std::vector<std::map<int64_t, LineValues>> lines;
  auto slot_of = [&](profile::FunctionId id) -> uint32_t {
    if (!id.valid() || id.value >= profile.functions.size()) return kNoMatch;
    uint32_t& s = slot[id.value];
    if (s != kUnknown) return s;
    const profile::Function& f = profile.function(id);
    std::string_view name = profile.str(f.name);
    if (name.empty()) name = profile.str(f.system_name);
    if (!function.search(name)) return s = kNoMatch;
    auto [it, inserted] = by_name_and_file.try_emplace({std::string(name), std::string(profile.str(f.filename))},
                                                        static_cast<uint32_t>(out.functions.size()));
    if (inserted) {
      AnnotatedFunction a;
      a.name = name;
      a.file = profile.str(f.filename);
      out.functions.push_back(std::move(a));
      lines.emplace_back();
    }
    AnnotatedFunction& a = out.functions[it->second];
    if (f.start_line > 0 && (a.start_line == 0 || f.start_line < a.start_line)) a.start_line = f.start_line;
    return s = it->second;
  };

  // (function slot, line) pairs already counted in the current sample's cum.
  std::set<std::pair<uint32_t, int64_t>> seen_lines;
  std::set<uint32_t> seen_functions;
  for (const profile::Sample& sample : profile.samples) {
    if (value_index >= sample.values.size()) continue;
    const int64_t v = sample.values[value_index];
    if (v == 0) continue;
    out.total = common::saturating_add(out.total, v < 0 ? -v : v);
    seen_lines.clear();
    seen_functions.clear();
    for (size_t i = 0; i < sample.locations.size(); ++i) {
      profile::LocationId id = sample.locations[i];
      if (!id.valid() || id.value >= profile.locations.size()) continue;
      const profile::Location& loc = profile.location(id);
      for (size_t j = 0; j < loc.lines.size(); ++j) {
        const uint32_t s = slot_of(loc.lines[j].function);
        if (s == kNoMatch) continue;
        const int64_t line = std::max<int64_t>(loc.lines[j].line, 0);
        LineValues& lv = lines[s][line];
        lv.line = line;
        AnnotatedFunction& a = out.functions[s];
        // The innermost frame of the sample: its leaf location's innermost (inlined) function.
        if (i == 0 && j == 0) {
          lv.flat = common::saturating_add(lv.flat, v);
          a.flat = common::saturating_add(a.flat, v);
        }
        if (seen_lines.insert({s, line}).second) lv.cum = common::saturating_add(lv.cum, v);
        if (seen_functions.insert(s).second) a.cum = common::saturating_add(a.cum, v);
      }
    }
  }
  for (size_t s = 0; s < out.functions.size(); ++s) {
    for (auto& [line, values] : lines[s]) out.functions[s].lines.push_back(values);
  }
  std::erase_if(out.functions, [](const AnnotatedFunction& a) { return a.cum == 0 && a.flat == 0; });
  std::sort(out.functions.begin(), out.functions.end(), [](const AnnotatedFunction& a, const AnnotatedFunction& b) {
    if (a.cum != b.cum) return a.cum > b.cum;
    return std::tie(a.name, a.file) < std::tie(b.name, b.file);
  });
  return out;
}

std::string format_annotation_text(const Annotation& annotation, std::span<const SourceFile> sources) {
  std::string out;
  auto it = std::back_inserter(out);
  auto value = [&](int64_t v) { return v == 0 ? std::string(".") : format_value(v, annotation.unit); };
  fmt::format_to(it, "Total: {}\n", format_value(annotation.total, annotation.unit));
  std::set<std::string> noted;  // files whose note was given
  for (size_t f = 0; f < annotation.functions.size(); ++f) {
    const AnnotatedFunction& a = annotation.functions[f];
    const SourceFile* source = f < sources.size() ? &sources[f] : nullptr;
    const bool shown = source != nullptr && source->note.empty() && !source->lines.empty();
    fmt::format_to(it, "ROUTINE ======================== {} in {}\n", a.name,
                   a.file.empty() ? "(no source file in the profile)" : a.file);
    const double share = annotation.total > 0 ? static_cast<double>(a.cum) / static_cast<double>(annotation.total) : 0;
    fmt::format_to(it, "{:>10} {:>10} (flat, cum) {} of Total\n", value(a.flat), value(a.cum), format_share(share));
    if (source != nullptr && !source->note.empty() && noted.insert(a.file).second) {
      fmt::format_to(it, "  ({})\n", source->note);
    }
    const int64_t hottest = a.hottest_line();
    auto row = [&](int64_t line, const LineValues* lv, std::string_view text) {
      fmt::format_to(it, "{:>10} {:>10} {:>8}:{}", lv ? value(lv->flat) : ".", lv ? value(lv->cum) : ".", line, text);
      if (line == hottest) out += "   ◀ hottest";
      out += '\n';
    };
    const LineValues* unnumbered = nullptr;
    if (!a.lines.empty() && a.lines.front().line == 0) unnumbered = &a.lines.front();
    if (shown) {
      int64_t first = a.lines.back().line;
      for (const LineValues& lv : a.lines) {
        if (lv.line > 0) first = std::min(first, lv.line);
      }
      first = a.start_line > 0 && a.start_line <= first ? a.start_line : first - kContextLines;
      first = std::max<int64_t>(first, 1);
      const int64_t last = std::min<int64_t>(a.last_line() + kContextLines, static_cast<int64_t>(source->lines.size()));
      auto next = a.lines.begin();
      for (int64_t line = first; line <= last; ++line) {
        while (next != a.lines.end() && next->line < line) ++next;
        const LineValues* lv = next != a.lines.end() && next->line == line ? &*next : nullptr;
        row(line, lv, source->lines[static_cast<size_t>(line - 1)]);
      }
    } else {
      for (const LineValues& lv : a.lines) {
        if (lv.line > 0) row(lv.line, &lv, "");
      }
    }
    if (unnumbered != nullptr) {
      fmt::format_to(it, "{:>10} {:>10} {:>8} (samples without a line number)\n", value(unnumbered->flat),
                     value(unnumbered->cum), "?");
    }
  }
  return out;
}

}  // namespace ember::analysis
