#include "analysis/growth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "analysis/function_values.h"
#include "analysis/runs.h"

namespace ember::analysis {

namespace {

constexpr double kPoorDispersion = 4;     // residual variance 4× the sampling variance: 2× the sd
constexpr double kPoorResidualRms = 0.1;  // and points 10% off the line on average

}  // namespace

size_t Growth::flagged_count() const {
  return static_cast<size_t>(std::count_if(functions.begin(), functions.end(),
                                           [](const GrowthRow& r) { return r.flagged; }));
}

GrowthFit fit_power_law(std::span<const double> sizes, std::span<const double> values,
                        std::span<const double> weights, double confidence) {
  GrowthFit f;
  std::vector<double> x, y, w;
  std::set<double> distinct;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (!(values[i] > 0) || !(sizes[i] > 0) || !(weights[i] > 0)) continue;
    x.push_back(std::log(sizes[i]));
    y.push_back(std::log(values[i]));
    w.push_back(weights[i]);
    distinct.insert(sizes[i]);
  }
  f.points = x.size();
  f.sizes = distinct.size();
  if (f.sizes < 2) return f;
  double sw = 0, sx = 0, sy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
  }
  double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += w[i] * (x[i] - mx) * (x[i] - mx);
    sxy += w[i] * (x[i] - mx) * (y[i] - my);
  }
  f.fitted = true;
  f.exponent = sxy / sxx;
  double intercept = my - f.exponent * mx;
  f.coefficient = std::exp(intercept);
  double chi2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double r = y[i] - intercept - f.exponent * x[i];
    chi2 += w[i] * r * r;
  }
  f.residual_rms = std::sqrt(chi2 / sw);
  double df = static_cast<double>(x.size()) - 2;
  double dispersion = df > 0 ? chi2 / df : 1;
  // The sampling variance is the least the points can have; more scatter widens the interval,
  // and then its size is estimated, with df degrees of freedom.
  f.dispersion = std::max(1.0, dispersion);
  double quantile = dispersion > 1 && df > 0
                        ? student_t_quantile_upper((1 - confidence) / 2, df)
                        : normal_quantile_upper((1 - confidence) / 2);
  double se = std::sqrt(f.dispersion / sxx);
  f.low = f.exponent - quantile * se;
  f.high = f.exponent + quantile * se;
  f.poor = f.dispersion > kPoorDispersion && f.residual_rms > kPoorResidualRms;
  return f;
}

Result<Growth> fit_growth(std::span<const GrowthInput> inputs, const GrowthOptions& options) {
  if (inputs.empty()) return make_error(ErrorCode::kInvalidArgument, "no recordings to fit");
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("confidence must be above 0% and below 100%, not {}", options.confidence));
  }
  std::vector<const ProfileRun*> runs;
  for (const auto& in : inputs) {
    if (!(in.size > 0) || !std::isfinite(in.size)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: size {} is not above 0", in.run.source, in.size));
    }
    if (in.run.profile == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no profile", in.run.source));
    }
    runs.push_back(&in.run);
  }
  std::optional<std::string> type = options.sample_type;
  if (!type && std::all_of(runs.begin(), runs.end(), [](const ProfileRun* r) {
        return r->profile->value_index("cpu").has_value();
      })) {
    type = "cpu";
  }
  auto indices = resolve_value_indices(runs, type);
  if (!indices) return std::unexpected(indices.error());

  const size_t n = inputs.size();
  Growth out;
  out.options = options;
  const profile::Profile& first = *runs.front()->profile;
  out.sample_type = first.str(first.sample_types[indices->front()].type);
  out.unit = first.str(first.sample_types[indices->front()].unit);
  struct Series {
    std::vector<double> self, total;
  };
  std::unordered_map<std::string, Series> series;
  std::vector<std::string> names;
  std::vector<double> totals(n), per_sample(n);
  for (size_t i = 0; i < n; ++i) {
    out.sizes.push_back(inputs[i].size);
    out.sources.push_back(runs[i]->source);
    FunctionValues v = function_values(*runs[i]->profile, (*indices)[i]);
    if (v.total == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: no samples of type {}", runs[i]->source, out.sample_type));
    }
    totals[i] = static_cast<double>(v.total);
    double samples = sample_count(*runs[i]->profile, (*indices)[i], v);
    per_sample[i] = samples > 0 ? totals[i] / samples : totals[i];
    for (uint32_t id = 0; id < v.values.size(); ++id) {
      if (v.values[id].self == 0 && v.values[id].total == 0) continue;
      std::string name(v.stacks.names.get(profile::StringId{id}));
      auto [it, inserted] = series.try_emplace(name);
      if (inserted) {
        it->second.self.assign(n, 0);
        it->second.total.assign(n, 0);
        names.push_back(name);
      }
      it->second.self[i] = static_cast<double>(v.values[id].self);
      it->second.total[i] = static_cast<double>(v.values[id].total);
    }
  }
  out.distinct_sizes = std::set<double>(out.sizes.begin(), out.sizes.end()).size();

  auto fit_row = [&](GrowthRow& row) {
    std::vector<double> weights(n);
    for (size_t i = 0; i < n; ++i) {
      weights[i] = row.values[i] / per_sample[i];  // the samples the value is made of
      row.max_share = std::max(row.max_share, row.values[i] / totals[i]);
    }
    row.fit = fit_power_law(out.sizes, row.values, weights, options.confidence);
    // Only a function's own time is a finding: its callers' totals grow as fast as their fastest
    // callee, and would repeat it up the stack.
    row.flagged = row.kind == ChangeKind::kSelf && row.fit.fitted && row.fit.low > options.flag_above;
  };
  out.whole.name = "[whole profile]";
  out.whole.kind = ChangeKind::kTotal;
  out.whole.values = totals;
  fit_row(out.whole);
  out.whole.flagged = false;  // the program's own exponent is context, not a finding

  for (const std::string& name : names) {
    const Series& s = series.at(name);
    if (options.function && !options.function->search(name)) {
      out.ignored += 1 + (s.self != s.total);
      continue;
    }
    for (ChangeKind kind : {ChangeKind::kSelf, ChangeKind::kTotal}) {
      if (kind == ChangeKind::kTotal && s.self == s.total) continue;
      GrowthRow row;
      row.name = name;
      row.kind = kind;
      row.values = kind == ChangeKind::kSelf ? s.self : s.total;
      fit_row(row);
      if (row.max_share < options.min_share) {
        ++out.ignored;
        continue;
      }
      out.functions.push_back(std::move(row));
    }
  }
  std::sort(out.functions.begin(), out.functions.end(), [](const GrowthRow& a, const GrowthRow& b) {
    if (a.flagged != b.flagged) return a.flagged;
    if (a.fit.fitted != b.fit.fitted) return a.fit.fitted;
    if (a.fit.exponent != b.fit.exponent) return a.fit.exponent > b.fit.exponent;
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.name < b.name;
  });
  return out;
}

}  // namespace ember::analysis
