// Formatters of a Comparison: terminal, Markdown (pull-request comment) and JSON.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/compare.h"
#include "analysis/format_parts.h"
#include "analysis/text_table.h"
#include "analysis/units.h"

namespace ember::analysis {

namespace {

std::string headline_text(const Comparison& c) {
  size_t n = c.regression_count();
  return n == 0 ? std::string("no regression") : plural(n, "regression", "regressions");
}

std::string runs_text(const Comparison& c) {
  return fmt::format("{} vs {}", plural(c.baseline_sources.size(), "baseline run", "baseline runs"),
                     plural(c.current_sources.size(), "current run", "current runs"));
}

std::string settings_text(const Comparison& c) {
  return fmt::format("threshold {}, min share {}, confidence {}",
                     format_percentage(c.options.threshold), format_percentage(c.options.min_share),
                     format_percentage(c.options.confidence));
}

std::string whole_text(const Comparison& c, std::string_view arrow) {
  const WholeProfileChange& w = c.whole;
  std::string s = fmt::format("{} {} {} ({})", format_value(w.baseline_mean, c.unit), arrow,
                              format_value(w.current_mean, c.unit), format_change(w.change));
  if (w.test.method == TestMethod::kNone) {
    return s + ", not tested (runs are not assumed to do the same work)";
  }
  std::string p = format_p_value(w.test.p_value);  // "0.003" or "<0.0001"
  return s + fmt::format(", {} (p {})", to_string(w.verdict),
                         p.starts_with('<') ? "< " + p.substr(1) : "= " + p);
}

std::string change_cell(const FunctionChange& f) {
  if (f.verdict == Verdict::kNew) return "new";
  if (f.verdict == Verdict::kGone) return "gone";
  return format_change(f.change);
}

std::string p_cell(const FunctionChange& f) {
  return f.share_test.method == TestMethod::kNone ? "-" : format_p_value(f.p_adjusted);
}

std::string method_sentence(const Comparison& c) {
  size_t nb = c.baseline_sources.size(), nc = c.current_sources.size();
  if (nb == 1 && nc == 1) {
    return "a two-proportion z-test on the sample counts of the one run per side (sampling noise "
           "is all one run shows; run-to-run noise is left to the threshold, so record several "
           "runs per side for a stronger gate)";
  }
  std::string s =
      "Welch's t-test on the per-run shares, each side's variance at least the binomial sampling "
      "variance p(1−p)/N";
  if (nb == 1 || nc == 1) s += " (the side with one run contributes only that sampling variance)";
  return s;
}

void markdown_table(std::string& out, const Comparison& c, Verdict verdict, std::string_view title,
                    size_t max_rows) {
  size_t total = c.count(verdict);
  if (total == 0) return;
  bool tested = verdict == Verdict::kRegression || verdict == Verdict::kImprovement;
  out += fmt::format("#### {} ({})\n\n", title, total);
  out += tested ? "| function | kind | baseline | current | change | p (adj.) |\n"
                  "|---|---|---:|---:|---:|---:|\n"
                : "| function | kind | baseline | current |\n|---|---|---:|---:|\n";
  size_t shown = 0;
  for (const auto& f : c.functions) {
    if (f.verdict != verdict) continue;
    if (shown++ == max_rows) break;
    out += fmt::format("| {} | {} | {} | {} |", markdown_code(f.name), to_string(f.kind),
                       format_share(f.baseline_share), format_share(f.current_share));
    if (tested) out += fmt::format(" {} | {} |", change_cell(f), p_cell(f));
    out += '\n';
  }
  if (total > max_rows)
    out += fmt::format("\n…and {} more (see the JSON report).\n", total - max_rows);
  out += '\n';
}

nlohmann::json test_json(const TestResult& t) {
  return {
      {"method", to_string(t.method)},
      {"statistic", t.method == TestMethod::kNone ? nlohmann::json(nullptr) : json_number(t.statistic)},
      {"df", t.method == TestMethod::kNone ? nlohmann::json(nullptr) : json_number(t.df)},
      {"p_value", t.method == TestMethod::kNone ? nlohmann::json(nullptr) : json_number(t.p_value)}};
}

}  // namespace

std::string format_comparison_text(const Comparison& c, bool all) {
  std::string out = fmt::format("{}: {} ({}), {}\n", c.regressed() ? "REGRESSION" : "OK",
                                headline_text(c), c.sample_type, runs_text(c));
  out += fmt::format("whole profile: {}\n", whole_text(c, "->"));
  TextTable table({{"verdict", false},
                   {"kind", false},
                   {"baseline"},
                   {"current"},
                   {"change"},
                   {"p"},
                   {"function", false}});
  for (const auto& f : c.functions) {
    if (!all && f.verdict == Verdict::kUnchanged) continue;
    table.add_row({std::string(to_string(f.verdict)), std::string(to_string(f.kind)),
                   format_share(f.baseline_share), format_share(f.current_share), change_cell(f),
                   p_cell(f), f.name});
  }
  out += '\n';
  if (table.empty()) {
    out += fmt::format("no function changed by {} or more beyond noise\n",
                       format_percentage(c.options.threshold));
  } else {
    out += table.format("  ");
  }
  out += fmt::format("\n{}; {} tests (Benjamini-Hochberg), {} below min share\n", settings_text(c),
                     c.tests, plural(c.ignored, "row", "rows"));
  return out;
}

std::string format_comparison_markdown(const Comparison& c, size_t max_rows) {
  std::string out;
  out += c.regressed() ? fmt::format("### ❌ {}\n\n", headline_text(c)) : "### ✅ no regression\n\n";
  out += fmt::format("Sample type `{}` ({}), {}.\n\n", c.sample_type, c.unit, runs_text(c));
  out += fmt::format("**Whole profile:** {}\n\n", whole_text(c, "→"));
  markdown_table(out, c, Verdict::kRegression, "Regressions", max_rows);
  markdown_table(out, c, Verdict::kImprovement, "Improvements", max_rows);
  markdown_table(out, c, Verdict::kNew, "New functions", max_rows);
  markdown_table(out, c, Verdict::kGone, "Gone functions", max_rows);
  if (c.count(Verdict::kRegression) == 0 && c.count(Verdict::kImprovement) == 0) {
    out += fmt::format("No function changed by {} or more beyond noise.\n\n",
                       format_percentage(c.options.threshold));
  }

  size_t explained = static_cast<size_t>(
      std::count_if(c.functions.begin(), c.functions.end(),
                    [](const FunctionChange& f) { return f.explained_by_rest; }));
  std::string threshold = format_percentage(c.options.threshold);
  out += "<details><summary>How this was decided</summary>\n\n";
  out += fmt::format(
      "A function is a regression when its share of the profile (self: its own code; total: with "
      "everything it calls) rose by at least {} relative to the baseline, and the rise is beyond "
      "noise: {}, one-sided, with p-values adjusted by Benjamini–Hochberg over the {} functions "
      "tested and "
      "significant below {:g}. Improvements are decided the same way.\n\n",
      threshold, method_sentence(c), c.tests, 1 - c.options.confidence);
  out += fmt::format("Functions below {} of both profiles are not tested ({}).",
                     format_percentage(c.options.min_share), plural(c.ignored, "row", "rows"));
  if (c.options.fixed_workload) {
    out += fmt::format(
        " The runs are taken to do the same work, so a function's own cost per run must have "
        "moved the same way by at least {} too, beyond its sampling noise: a faster hot loop "
        "raises the share of everything else without making it slower ({} explained this way). "
        "The whole profile is compared on its total per run, tested on its own below {:g}.",
        threshold, plural(explained, "row was", "rows were"), 1 - c.options.confidence);
  } else {
    out += " The runs are not taken to do the same work: the whole profile is shown, not tested.";
  }
  out +=
      " New and gone functions are listed, not failed: their cost shows in their callers' "
      "totals.\n\n";
  out += fmt::format("Settings: {}. Baseline: {}. Current: {}.\n\n</details>\n", settings_text(c),
                     sources_text(c.baseline_sources), sources_text(c.current_sources));
  return out;
}

nlohmann::json to_json(const Comparison& c) {
  nlohmann::json j;
  j["version"] = 1;
  j["regressed"] = c.regressed();
  j["regressions"] = c.regression_count();
  j["sample_type"] = c.sample_type;
  j["unit"] = c.unit;
  j["method"] = to_string(c.method());
  j["settings"] = {{"threshold", c.options.threshold},
                   {"min_share", c.options.min_share},
                   {"confidence", c.options.confidence},
                   {"alpha", 1 - c.options.confidence},
                   {"fixed_workload", c.options.fixed_workload}};
  j["runs"] = {{"baseline", c.baseline_sources}, {"current", c.current_sources}};
  j["tests"] = c.tests;
  j["ignored"] = c.ignored;
  j["counts"] = {{"regression", c.count(Verdict::kRegression)},
                 {"improvement", c.count(Verdict::kImprovement)},
                 {"new", c.count(Verdict::kNew)},
                 {"gone", c.count(Verdict::kGone)},
                 {"unchanged", c.count(Verdict::kUnchanged)}};
  const WholeProfileChange& w = c.whole;
  j["whole_profile"] = {{"baseline_totals", w.baseline_totals},
                        {"current_totals", w.current_totals},
                        {"baseline_samples", w.baseline_samples},
                        {"current_samples", w.current_samples},
                        {"baseline_mean", w.baseline_mean},
                        {"current_mean", w.current_mean},
                        {"change", json_number(w.change)},
                        {"test", test_json(w.test)},
                        {"verdict", to_string(w.verdict)}};
  auto& functions = j["functions"] = nlohmann::json::array();
  for (const auto& f : c.functions) {
    bool tested = f.share_test.method != TestMethod::kNone;
    functions.push_back({{"name", f.name},
                         {"kind", to_string(f.kind)},
                         {"baseline_share", f.baseline_share},
                         {"current_share", f.current_share},
                         {"baseline_value", f.baseline_value},
                         {"current_value", f.current_value},
                         {"change", json_number(f.change)},
                         {"value_change", json_number(f.value_change)},
                         {"verdict", to_string(f.verdict)},
                         {"explained_by_rest", f.explained_by_rest},
                         {"p_value", tested ? json_number(f.p_value) : nlohmann::json(nullptr)},
                         {"p_adjusted", tested ? json_number(f.p_adjusted) : nlohmann::json(nullptr)},
                         {"share_test", test_json(f.share_test)},
                         {"value_test", test_json(f.value_test)}});
  }
  return j;
}

std::string format_comparison_json(const Comparison& c, int indent) {
  return to_json(c).dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ember::analysis
