// Formatters of a Growth: terminal, Markdown and JSON.

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "analysis/format_parts.h"
#include "analysis/growth.h"
#include "analysis/text_table.h"
#include "analysis/units.h"

namespace ember::analysis {

namespace {

std::string exponent_cell(const GrowthFit& f) {
  if (!f.fitted) return "-";
  return fmt::format("{:.2f}", f.exponent);
}

std::string interval_cell(const GrowthFit& f) {
  if (!f.fitted) return "-";
  return fmt::format("{:.2f} – {:.2f}", f.low, f.high);
}

// What the exponent says in words.
std::string growth_word(const GrowthFit& f) {
  if (!f.fitted) return "not fitted (samples at fewer than 2 sizes)";
  std::string word = f.exponent < 0.3   ? "constant"
                     : f.exponent < 0.8 ? "sublinear"
                     : f.exponent < 1.2 ? "linear"
                     : f.exponent < 1.8 ? "superlinear"
                     : f.exponent < 2.5 ? "quadratic"
                                        : "worse than quadratic";
  if (f.poor) word += ", poor fit";
  return word;
}

std::string sizes_text(const Growth& g) {
  std::set<double> distinct(g.sizes.begin(), g.sizes.end());
  std::string s;
  for (double size : distinct) s += (s.empty() ? "" : ", ") + fmt::format("{:g}", size);
  return s;
}

std::string headline(const Growth& g) {
  size_t n = g.flagged_count();
  std::string s = n == 0 ? std::string("no function grows faster than linear")
                         : plural(n, "function grows", "functions grow") + " faster than linear";
  for (const auto& f : g.functions) {
    if (f.flagged) {
      s += fmt::format(", fastest: {} ({}, exponent {:.2f})", f.name, to_string(f.kind), f.fit.exponent);
      break;
    }
  }
  return s;
}

std::vector<std::string> notes(const Growth& g) {
  std::vector<std::string> out;
  if (g.too_few_sizes()) {
    out.push_back(fmt::format("only {} distinct sizes: an exponent from fewer than 3 sizes cannot show a "
                              "bend, and with 2 it is a two-point estimate; give at least 3 sizes",
                              g.distinct_sizes));
  }
  size_t poor = 0;
  for (const auto& f : g.functions) poor += f.fit.poor;
  if (poor) {
    out.push_back(fmt::format("{} scatter around their line more than sampling explains (poor fit): "
                              "the growth is not one power of the size over this range",
                              plural(poor, "row", "rows")));
  }
  return out;
}

}  // namespace

std::string format_growth_text(const Growth& g, size_t top) {
  std::string out = fmt::format("ember scale: {} ({} over sizes {}, {})\n", headline(g), g.sample_type,
                                sizes_text(g), plural(g.sizes.size(), "recording", "recordings"));
  out += fmt::format("  whole profile: exponent {} ({}), {}\n\n", exponent_cell(g.whole.fit),
                     interval_cell(g.whole.fit), growth_word(g.whole.fit));
  TextTable table({{"function", false}, {"kind", false}, {"exponent"},
                   {fmt::format("{} interval", format_percentage(g.options.confidence))},
                   {"at largest"}, {"growth", false}});
  size_t shown = 0;
  for (const auto& f : g.functions) {
    if (top != 0 && shown++ >= top && !f.flagged) break;
    table.add_row({(f.flagged ? "! " : "") + f.name, std::string(to_string(f.kind)), exponent_cell(f.fit),
                   interval_cell(f.fit), format_value(f.values.back(), g.unit), growth_word(f.fit)});
  }
  if (!table.empty()) out += table.format("  ");
  for (const auto& note : notes(g)) out += "\n  note: " + note;
  out += fmt::format("\n  {} rows fitted, {} below min share or not chosen; flagged (!) when the interval's low end "
                     "exceeds {:.2f}\n",
                     g.functions.size(), g.ignored, g.options.flag_above);
  return out;
}

std::string format_growth_markdown(const Growth& g, size_t top) {
  std::string out = fmt::format("### {} {}\n\n", g.flagged_count() ? "⚠️" : "✅", headline(g));
  out += fmt::format("Sizes {} ({}). Whole profile: exponent {} ({}).\n\n", sizes_text(g), g.sample_type,
                     exponent_cell(g.whole.fit), interval_cell(g.whole.fit));
  out += fmt::format("| function | kind | exponent | {} interval | growth |\n|---|---|---:|---:|---|\n",
                     format_percentage(g.options.confidence));
  size_t shown = 0;
  for (const auto& f : g.functions) {
    if (top != 0 && shown++ >= top && !f.flagged) break;
    out += fmt::format("| {}{} | {} | {} | {} | {} |\n", f.flagged ? "⚠️ " : "", markdown_code(f.name),
                       to_string(f.kind), exponent_cell(f.fit), interval_cell(f.fit), growth_word(f.fit));
  }
  for (const auto& note : notes(g)) out += "\n> " + note + "\n";
  out += fmt::format(
      "\n<details><summary>How this was decided</summary>\n\nPer function, a weighted least-squares fit "
      "of ln(value) on ln(size) over every recording where it has samples, each weighted by its "
      "sample count; the interval uses the larger of the sampling variance and the observed scatter. "
      "Flagged when the interval's low end exceeds {:.2f}. Recordings: {}.\n\n</details>\n",
      g.options.flag_above, sources_text(g.sources));
  return out;
}

namespace {

nlohmann::json row_json(const GrowthRow& r) {
  const GrowthFit& f = r.fit;
  return {{"name", r.name},
          {"kind", to_string(r.kind)},
          {"values", r.values},
          {"max_share", r.max_share},
          {"flagged", r.flagged},
          {"fitted", f.fitted},
          {"exponent", f.fitted ? json_number(f.exponent) : nlohmann::json(nullptr)},
          {"low", f.fitted ? json_number(f.low) : nlohmann::json(nullptr)},
          {"high", f.fitted ? json_number(f.high) : nlohmann::json(nullptr)},
          {"coefficient", f.fitted ? json_number(f.coefficient) : nlohmann::json(nullptr)},
          {"residual_rms", json_number(f.residual_rms)},
          {"dispersion", json_number(f.dispersion)},
          {"points", f.points},
          {"sizes", f.sizes},
          {"poor_fit", f.poor}};
}

}  // namespace

nlohmann::json to_json(const Growth& g) {
  nlohmann::json functions = nlohmann::json::array();
  for (const auto& f : g.functions) functions.push_back(row_json(f));
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < g.sizes.size(); ++i) runs.push_back({{"size", g.sizes[i]}, {"source", g.sources[i]}});
  return {{"version", 1},
          {"sample_type", g.sample_type},
          {"unit", g.unit},
          {"settings", {{"confidence", g.options.confidence},
                        {"min_share", g.options.min_share},
                        {"flag_above", g.options.flag_above}}},
          {"runs", runs},
          {"distinct_sizes", g.distinct_sizes},
          {"too_few_sizes", g.too_few_sizes()},
          {"flagged", g.flagged_count()},
          {"ignored", g.ignored},
          {"whole_profile", row_json(g.whole)},
          {"functions", functions}};
}

std::string format_growth_json(const Growth& g, int indent) { return to_json(g).dump(indent); }

}  // namespace ember::analysis
