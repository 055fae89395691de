#include "analysis/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "analysis/function_values.h"
#include "analysis/text_table.h"
#include "analysis/units.h"

namespace ember::analysis {

namespace {

double share_of(int64_t value, int64_t total) {
  return total == 0 ? 0.0 : static_cast<double>(value) / static_cast<double>(total);
}

template <class T>
void keep_top(std::vector<T>& v, size_t n) {
  if (n != 0 && v.size() > n) v.resize(n);
}

std::string join_frames(const std::vector<std::string>& frames) {
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i != 0) out += ';';
    out += frames[i];
  }
  return out;
}

std::string frame_list(const std::vector<FindingFrame>& frames) {
  std::string out;
  for (const auto& f : frames) {
    if (!out.empty()) out += ", ";
    out += f.name + " " + format_share(f.share);
  }
  return out;
}

std::string format_findings_text(const std::vector<Finding>& findings, const std::string& unit) {
  if (findings.empty()) return {};
  std::string out = fmt::format("\nFindings ({}):\n", findings.size());
  for (const auto& f : findings) {
    const std::string title = f.id == "hot_function" ? "One function: " + f.title : f.title;
    out += fmt::format("  {:<8}  {}: {} ({})\n", to_string(f.severity), title, format_share(f.share),
                       format_value(f.value, unit));
    if (f.id != "hot_function") out += fmt::format("            in: {}\n", frame_list(f.frames));
    if (!f.callers.empty()) out += fmt::format("            from: {}\n", frame_list(f.callers));
    if (!f.path.empty()) out += fmt::format("            hottest path: {}\n", join_frames(f.path));
    // One function's advice is the same for all: said once, by the table's severity column.
    if (f.id != "hot_function") out += fmt::format("            try: {}\n", f.advice);
  }
  return out;
}

nlohmann::json frames_json(const std::vector<FindingFrame>& frames) {
  auto out = nlohmann::json::array();
  for (const auto& f : frames) out.push_back({{"name", f.name}, {"value", f.value}, {"share", f.share}});
  return out;
}

nlohmann::json function_json(const FunctionStats& f) {
  return {{"name", f.name},
          {"self", f.self},
          {"self_share", f.self_share},
          {"total", f.total},
          {"total_share", f.total_share},
          {"severity", to_string(f.severity)}};
}

}  // namespace

Result<Report> make_report(const profile::Profile& profile, const ReportOptions& options) {
  auto index = profile.choose_value_index(options.sample_type);
  if (!index) return std::unexpected(index.error());
  Report report;
  if (*index < profile.sample_types.size()) {
    report.sample_type = profile.str(profile.sample_types[*index].type);
    report.unit = profile.str(profile.sample_types[*index].unit);
  }
  FunctionValues values = function_values(profile, *index);
  report.total = values.total;

  std::vector<FunctionStats> functions;
  for (uint32_t id = 0; id < values.values.size(); ++id) {
    const FunctionValue& v = values.values[id];
    if (v.self == 0 && v.total == 0) continue;
    FunctionStats f;
    f.name = values.stacks.names.get(profile::StringId{id});
    f.self = v.self;
    f.total = v.total;
    f.self_share = share_of(v.self, values.total);
    f.total_share = share_of(v.total, values.total);
    f.severity = severity_of(f.self_share);
    functions.push_back(std::move(f));
  }
  report.function_count = functions.size();

  report.top_self = functions;
  std::sort(report.top_self.begin(), report.top_self.end(),
            [](const FunctionStats& a, const FunctionStats& b) {
              if (a.self != b.self) return a.self > b.self;
              if (a.total != b.total) return a.total > b.total;
              return a.name < b.name;
            });
  keep_top(report.top_self, options.top);
  report.top_total = std::move(functions);
  std::sort(report.top_total.begin(), report.top_total.end(),
            [](const FunctionStats& a, const FunctionStats& b) {
              if (a.total != b.total) return a.total > b.total;
              if (a.self != b.self) return a.self > b.self;
              return a.name < b.name;
            });
  keep_top(report.top_total, options.top);

  report.path_count = values.stacks.stacks.size();
  report.hot_paths.reserve(values.stacks.stacks.size());
  for (const auto& stack : values.stacks.stacks) {
    HotPath path;
    for (profile::StringId id : stack.frames) path.frames.emplace_back(values.stacks.names.get(id));
    path.value = stack.value;
    path.share = share_of(stack.value, values.total);
    report.hot_paths.push_back(std::move(path));
  }
  std::sort(report.hot_paths.begin(), report.hot_paths.end(),
            [](const HotPath& a, const HotPath& b) {
              if (a.value != b.value) return a.value > b.value;
              return a.frames < b.frames;
            });
  keep_top(report.hot_paths, options.hot_paths);
  report.findings = find_findings(values);
  return report;
}

std::string format_report_text(const Report& report) {
  const std::string& unit = report.unit;
  std::string out =
      fmt::format("{} ({}): total {}{}, {} functions, {} distinct stacks\n", report.sample_type,
                  unit, format_value(report.total, unit), unit == "count" ? " samples" : "",
                  report.function_count, report.path_count);

  out += format_findings_text(report.findings, unit);
  out += fmt::format("\nBy self (top {} of {} functions):\n", report.top_self.size(),
                     report.function_count);
  TextTable by_self(
      {{"self"}, {"self%"}, {"total"}, {"total%"}, {"severity", false}, {"function", false}});
  for (const auto& f : report.top_self) {
    by_self.add_row({format_value(f.self, unit), format_share(f.self_share),
                     format_value(f.total, unit), format_share(f.total_share),
                     std::string(to_string(f.severity)), f.name});
  }
  out += by_self.format("  ");

  out += fmt::format("\nBy total (top {} of {} functions):\n", report.top_total.size(),
                     report.function_count);
  TextTable by_total({{"total"}, {"total%"}, {"self"}, {"self%"}, {"function", false}});
  for (const auto& f : report.top_total) {
    by_total.add_row({format_value(f.total, unit), format_share(f.total_share),
                      format_value(f.self, unit), format_share(f.self_share), f.name});
  }
  out += by_total.format("  ");

  out +=
      fmt::format("\nHottest paths (top {} of {}):\n", report.hot_paths.size(), report.path_count);
  TextTable paths({{"value"}, {"share"}, {"path (root first)", false}});
  for (const auto& p : report.hot_paths) {
    paths.add_row({format_value(p.value, unit), format_share(p.share), join_frames(p.frames)});
  }
  out += paths.format("  ");
  return out;
}

nlohmann::json to_json(const Report& report) {
  nlohmann::json j;
  j["version"] = 1;
  j["sample_type"] = report.sample_type;
  j["unit"] = report.unit;
  j["total"] = report.total;
  j["function_count"] = report.function_count;
  j["path_count"] = report.path_count;
  j["severity_thresholds"] = {
      {"critical", kCriticalShare}, {"high", kHighShare}, {"medium", kMediumShare}};
  auto& top_self = j["top_self"] = nlohmann::json::array();
  for (const auto& f : report.top_self) top_self.push_back(function_json(f));
  auto& top_total = j["top_total"] = nlohmann::json::array();
  for (const auto& f : report.top_total) top_total.push_back(function_json(f));
  auto& paths = j["hot_paths"] = nlohmann::json::array();
  for (const auto& p : report.hot_paths) {
    paths.push_back({{"frames", p.frames}, {"value", p.value}, {"share", p.share}});
  }
  auto& findings = j["findings"] = nlohmann::json::array();
  for (const auto& f : report.findings) {
    findings.push_back({{"id", f.id},
                        {"title", f.title},
                        {"severity", to_string(f.severity)},
                        {"value", f.value},
                        {"share", f.share},
                        {"frames", frames_json(f.frames)},
                        {"callers", frames_json(f.callers)},
                        {"path", f.path},
                        {"advice", f.advice}});
  }
  return j;
}

std::string format_report_json(const Report& report, int indent) {
  // Replace invalid UTF-8 (names come from binaries) rather than throw.
  return to_json(report).dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ember::analysis
