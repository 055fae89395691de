// GET /api/v1/compare: "what changed" between two ranges, with the statistics, thresholds and
// verdicts of `ember compare`, each snapshot of a range counting as one run. An alert or a chat
// bot asks whether this hour is slower than the same hour yesterday.

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "analysis/compare.h"
#include "analysis/units.h"
#include "daemon/api.h"
#include "daemon/api_params.h"

namespace ember::daemon {

namespace {

// threshold, min_share and confidence as `ember compare` takes them ("10%" or 0.1).
Result<void> read_fraction(const Params& p, std::string_view key, double& into) {
  auto text = p.one(key);
  if (!text) return std::unexpected(text.error());
  if (!*text) return {};
  auto v = analysis::parse_percentage(**text);
  if (!v) return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: {}", key, v.error().message()));
  into = *v;
  return {};
}

std::vector<analysis::ProfileRun> as_runs(const std::vector<RangeRun>& runs) {
  std::vector<analysis::ProfileRun> out;
  out.reserve(runs.size());
  for (const RangeRun& r : runs) out.push_back(analysis::ProfileRun{r.name, &r.profile});
  return out;
}

}  // namespace

HttpResponse Api::compare(const Params& p, const QueryControl& control) {
  auto allowed = p.allow({"base_from", "base_to", "from", "to", "pid", "comm", "label", "sample_type", "threshold",
                          "min_share", "confidence", "fixed_workload", "format"});
  if (!allowed) return bad_request(allowed.error().message());
  auto ranges = parse_two_ranges(p, unix_now_ns(), max_range());
  if (!ranges) return bad_request(ranges.error().message());
  const TimeRange* current = &ranges->current;
  const TimeRange* base = &ranges->base;
  const SampleFilter* filter = &ranges->filter;

  analysis::CompareOptions options;
  // A server's windows do not all do the same work: shares are compared, not values, unless the
  // caller says the load is fixed (a benchmark loop).
  options.fixed_workload = false;
  for (auto [key, into] : {std::pair{"threshold", &options.threshold}, std::pair{"min_share", &options.min_share},
                           std::pair{"confidence", &options.confidence}}) {
    if (auto ok = read_fraction(p, key, *into); !ok) return bad_request(ok.error().message());
  }
  if (auto ok = analysis::validate(options); !ok) return bad_request(ok.error().message());
  auto fixed = optional_bool(p, "fixed_workload");
  if (!fixed) return bad_request(fixed.error().message());
  if (*fixed) options.fixed_workload = **fixed;
  auto sample_type = p.one("sample_type");
  if (!sample_type) return bad_request(sample_type.error().message());
  options.sample_type = *sample_type;
  auto format = p.one("format");
  if (!format) return bad_request(format.error().message());
  const std::string fmt_name = format->value_or("json");
  if (fmt_name != "json" && fmt_name != "markdown") {
    return bad_request(fmt::format("format: '{}' is not json or markdown", fmt_name.substr(0, 32)));
  }

  auto baseline = queries_.runs(*base, *filter, control);
  if (!baseline) return query_failed(baseline.error());
  auto now_runs = queries_.runs(*current, *filter, control);
  if (!now_runs) return query_failed(now_runs.error());
  auto none = [&](const TimeRange& r, std::string_view which) {
    return error_response(422, fmt::format("no profile with samples in {} ({} to {}){}: nothing to compare", which,
                                           format_time(r.from), format_time(r.to),
                                           filter->empty() ? "" : " for " + filter->describe()));
  };
  if (baseline->empty()) return none(*base, "base_from..base_to");
  if (now_runs->empty()) return none(*current, "from..to");
  const auto base_runs = as_runs(*baseline);
  const auto current_runs = as_runs(*now_runs);
  if (auto ok = control.check(); !ok) return query_failed(ok.error());
  auto comparison = analysis::compare(base_runs, current_runs, options);
  if (!comparison) return error_response(422, comparison.error().message());

  HttpResponse r;
  if (fmt_name == "markdown") {
    r.content_type = "text/markdown; charset=utf-8";
    r.body = analysis::format_comparison_markdown(*comparison);
  } else {
    nlohmann::json j = analysis::to_json(*comparison);
    j["ranges"] = {{"base", {{"from", format_time(base->from)}, {"to", format_time(base->to)}}},
                   {"current", {{"from", format_time(current->from)}, {"to", format_time(current->to)}}}};
    r.content_type = "application/json";
    r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (auto too_large = check_answer_size(r.body.size())) return *too_large;
  return r;
}

}  // namespace ember::daemon
