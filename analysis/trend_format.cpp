// Formatters of a Trend: terminal, Markdown (job summary or pull-request comment) and JSON.

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/format_parts.h"
#include "analysis/text_table.h"
#include "analysis/trend.h"
#include "analysis/units.h"

namespace ember::analysis {

namespace {

constexpr size_t kMaxRunColumns = 12;  // Markdown's per-run table shows the newest runs

// The shares per run as a line of block characters, lowest to highest of the row.
std::string sparkline(std::span<const double> v) {
  static constexpr std::string_view kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (v.empty()) return {};
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  std::string out;
  for (double x : v) {
    size_t level = *hi > *lo ? static_cast<size_t>(std::lround((x - *lo) / (*hi - *lo) * 7)) : 3;
    out += kBlocks[std::min<size_t>(level, 7)];
  }
  return out;
}

std::string drift_cell(const TrendEvidence& e, size_t runs) {
  switch (e.drift) {
    case DriftKind::kTrend:
      return fmt::format("{}: {} over {} runs", to_string(e.direction), format_change(e.trend_change), runs);
    case DriftKind::kStep:
      return fmt::format("{}: {} at run {}", to_string(e.direction), format_change(e.step_change),
                         e.step_at + 1);
    case DriftKind::kNone:
      break;
  }
  return "-";
}

std::string headline(const Trend& t) {
  size_t n = t.drift_count(DriftDirection::kSlower);
  size_t faster = t.drift_count(DriftDirection::kFaster);
  std::string s = n == 0 ? std::string("no drift") : plural(n, "drift slower", "drifts slower");
  if (faster) s += fmt::format(", {} faster", faster);
  return s;
}

std::string settings_text(const Trend& t) {
  return fmt::format("threshold {}, min share {}, confidence {}{}",
                     format_percentage(t.options.threshold), format_percentage(t.options.min_share),
                     format_percentage(t.options.confidence),
                     t.options.function ? fmt::format(", functions matching '{}'", t.options.function->pattern()) : "");
}

std::string whole_text(const Trend& t) {
  const TrendRow& w = t.whole;
  std::string s = fmt::format("{} → {} per run", format_value(w.values.front(), t.unit),
                              format_value(w.values.back(), t.unit));
  if (!t.options.fixed_workload) return s + ", not tested (runs are not assumed to do the same work)";
  if (w.evidence.drift == DriftKind::kNone) {
    return s + fmt::format(", no drift (p {})", format_p_value(w.evidence.p_value));
  }
  return s + fmt::format(", {} (p {})", drift_cell(w.evidence, t.runs.size()),
                         format_p_value(w.evidence.p_value));
}

std::string runs_sentence(const Trend& t) {
  return fmt::format("{}, oldest {} ({}), newest {} ({})", plural(t.runs.size(), "run", "runs"),
                     t.runs.front().label, t.runs.front().source, t.runs.back().label,
                     t.runs.back().source);
}

std::string method_sentence(const Trend& t) {
  return fmt::format(
      "Per function, two tests of its share over the runs in order: the Mann–Kendall trend test "
      "(size: Sen's slope, first to last run) and a step at any run ({} splits with at least {} "
      "runs a side, each tested as `ember compare` does — Welch's t-test on per-run shares — and "
      "Bonferroni-corrected for the splits); the row's p is twice the smaller, "
      "Benjamini–Hochberg-adjusted over {} rows.{} A drift needs p < {} and a change of at least "
      "{}.",
      t.splits, t.options.min_segment, t.tests,
      t.options.fixed_workload ? " The function's own value per run must move the same way "
                                 "(the larger p of share and value counts)."
                               : "",
      format_p_value(1 - t.options.confidence), format_percentage(t.options.threshold));
}

}  // namespace

std::string format_trend_text(const Trend& t, size_t top) {
  std::string out = fmt::format("ember trend: {} ({}; {})\n", headline(t), runs_sentence(t), t.sample_type);
  out += fmt::format("  whole profile: {}\n\n", whole_text(t));
  bool cpu = !t.whole.cpu_ns.empty() && t.sample_type != "cpu";
  std::vector<TextTable::Column> columns = {{"function", false}, {"kind", false}, {"first"}, {"last"},
                                            {"mean"}};
  if (cpu) columns.push_back({"cpu last"});
  columns.push_back({"per run", false});
  columns.push_back({"drift", false});
  columns.push_back({"p (adj.)"});
  TextTable table(std::move(columns));
  for (const TrendRow* r : shown_rows(t, top)) {
    std::vector<std::string> cells = {r->name, std::string(to_string(r->kind)),
                                      format_share(r->shares.front()), format_share(r->shares.back()),
                                      format_share(r->mean_share)};
    if (cpu) cells.push_back(format_value(r->cpu_ns.back(), "nanoseconds"));
    cells.push_back(sparkline(r->shares));
    cells.push_back(drift_cell(r->evidence, t.runs.size()));
    cells.push_back(format_p_value(r->evidence.p_adjusted));
    table.add_row(std::move(cells));
  }
  if (!table.empty()) out += table.format("  ");
  size_t hidden = t.functions.size() - shown_rows(t, top).size();
  out += fmt::format("\n  {} rows tested, {} below min share or not chosen{}; {}\n", t.tests, t.ignored,
                     hidden ? fmt::format(", {} more not shown (--top 0 shows all)", hidden) : "",
                     settings_text(t));
  return out;
}

std::string format_trend_markdown(const Trend& t, size_t top) {
  std::string out = fmt::format("### {} {}\n\n", t.drifted() ? "❌" : "✅", headline(t));
  out += fmt::format("**Whole profile** ({}): {}\n\n", t.sample_type, whole_text(t));
  std::vector<const TrendRow*> rows = shown_rows(t, top);
  if (!rows.empty()) {
    out += "| function | kind | first | last | per run | drift | p (adj.) |\n"
           "|---|---|---:|---:|---|---|---:|\n";
    for (const TrendRow* r : rows) {
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", markdown_code(r->name),
                         to_string(r->kind), format_share(r->shares.front()),
                         format_share(r->shares.back()), sparkline(r->shares),
                         drift_cell(r->evidence, t.runs.size()), format_p_value(r->evidence.p_adjusted));
    }
    out += '\n';
    // The numbers behind the sparklines, newest runs last.
    size_t first_run = t.runs.size() > kMaxRunColumns ? t.runs.size() - kMaxRunColumns : 0;
    out += "<details><summary>Share per run";
    if (!t.whole.cpu_ns.empty()) out += " (and CPU time)";
    out += "</summary>\n\n| run |";
    for (const TrendRow* r : rows) out += fmt::format(" {} {} |", markdown_code(r->name), to_string(r->kind));
    out += "\n|---|";
    for (size_t i = 0; i < rows.size(); ++i) out += "---:|";
    out += '\n';
    for (size_t i = first_run; i < t.runs.size(); ++i) {
      out += fmt::format("| {} |", t.runs[i].label);
      for (const TrendRow* r : rows) {
        out += ' ' + format_share(r->shares[i]);
        if (!r->cpu_ns.empty()) out += " · " + format_value(r->cpu_ns[i], "nanoseconds");
        out += " |";
      }
      out += '\n';
    }
    if (first_run > 0) out += fmt::format("\n…and {} older runs (see the JSON report).\n", first_run);
    out += "\n</details>\n\n";
  }
  out += "<details><summary>How this was decided</summary>\n\n" + method_sentence(t) + "\n\n";
  out += fmt::format("Settings: {}. Runs: {}.\n\n</details>\n", settings_text(t), [&] {
    std::vector<std::string> sources;
    for (const auto& r : t.runs) sources.push_back(r.source);
    return sources_text(sources);
  }());
  return out;
}

namespace {

nlohmann::json evidence_json(const TrendEvidence& e) {
  return {{"drift", to_string(e.drift)},
          {"direction", e.drift == DriftKind::kNone ? nlohmann::json(nullptr)
                                                     : nlohmann::json(to_string(e.direction))},
          {"p_value", json_number(e.p_value)},
          {"p_adjusted", json_number(e.p_adjusted)},
          {"trend", {{"mann_kendall_s", e.trend.s},
                     {"kendall_tau", json_number(e.trend.tau)},
                     {"exact", e.trend.exact},
                     {"p_value", json_number(e.trend_p)},
                     {"sen_slope", json_number(e.slope.slope)},
                     {"sen_slope_low", json_number(e.slope.low)},
                     {"sen_slope_high", json_number(e.slope.high)},
                     {"change", json_number(e.trend_change)},
                     {"value_change", json_number(e.trend_value_change)}}},
          {"step", e.step_at == 0 ? nlohmann::json(nullptr)
                                  : nlohmann::json{{"at_run", e.step_at},
                                                   {"change", json_number(e.step_change)},
                                                   {"value_change", json_number(e.step_value_change)},
                                                   {"p_value", json_number(e.step_p)}}}};
}

nlohmann::json row_json(const TrendRow& r) {
  nlohmann::json j = {{"name", r.name},
                      {"kind", to_string(r.kind)},
                      {"mean_share", r.mean_share},
                      {"shares", r.shares},
                      {"values", r.values}};
  j["cpu_ns"] = r.cpu_ns.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.cpu_ns);
  j.update(evidence_json(r.evidence));
  return j;
}

}  // namespace

nlohmann::json to_json(const Trend& t, size_t top) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : t.runs) {
    runs.push_back({{"source", r.source},
                    {"label", r.label},
                    {"total", r.total},
                    {"cpu_ns", r.cpu_ns ? nlohmann::json(*r.cpu_ns) : nlohmann::json(nullptr)}});
  }
  nlohmann::json functions = nlohmann::json::array();
  for (const TrendRow* r : shown_rows(t, top)) functions.push_back(row_json(*r));
  return {{"version", 1},
          {"drifted", t.drifted()},
          {"drifts", {{"slower", t.drift_count(DriftDirection::kSlower)},
                      {"faster", t.drift_count(DriftDirection::kFaster)}}},
          {"sample_type", t.sample_type},
          {"unit", t.unit},
          {"settings", {{"threshold", t.options.threshold},
                        {"min_share", t.options.min_share},
                        {"confidence", t.options.confidence},
                        {"alpha", 1 - t.options.confidence},
                        {"fixed_workload", t.options.fixed_workload},
                        {"min_segment", t.options.min_segment},
                        {"function", t.options.function ? nlohmann::json(t.options.function->pattern())
                                                        : nlohmann::json(nullptr)}}},
          {"runs", runs},
          {"tests", t.tests},
          {"ignored", t.ignored},
          {"splits", t.splits},
          {"whole_profile", row_json(t.whole)},
          {"functions", functions}};
}

std::string format_trend_json(const Trend& t, size_t top, int indent) {
  return to_json(t, top).dump(indent);
}

}  // namespace ember::analysis
