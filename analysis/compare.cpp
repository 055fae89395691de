#include "analysis/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "analysis/function_values.h"
#include "analysis/runs.h"

namespace ember::analysis {

namespace {

// Relative changes computed from ratios of integers land a rounding error away from a threshold
// the user typed (0.22 / 0.20 − 1 = 0.10000000000000009, or 0.0999...); at this tolerance no
// real change is affected.
constexpr double kThresholdTolerance = 1e-9;

struct RunData {
  const ProfileRun* run = nullptr;
  size_t value_index = 0;
  FunctionValues values;
  double samples = 0;  // N
};

double mean(std::span<const double> v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double relative_change(double before, double after) {
  if (before == 0) return after == 0 ? 0.0 : std::copysign(INFINITY, after);
  return after / before - 1;
}

// Per-run values of one function, baseline runs first.
struct Series {
  std::vector<int64_t> self;
  std::vector<int64_t> total;
};

bool reaches(double change, double threshold) { return change + kThresholdTolerance >= threshold; }

// The one-sided p-value of `t` for the alternative "higher" (up) or "lower", whichever way the
// statistic itself points.
double p_in_direction(const TestResult& t, bool up) {
  bool points_up = t.statistic >= 0;
  return points_up == up ? t.p_value : 1 - t.p_value;
}

}  // namespace

std::string_view to_string(ChangeKind kind) { return kind == ChangeKind::kSelf ? "self" : "total"; }

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kRegression:
      return "regression";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kUnchanged:
      return "unchanged";
    case Verdict::kNew:
      return "new";
    case Verdict::kGone:
      return "gone";
  }
  return "unchanged";
}

std::string_view to_string(TestMethod method) {
  switch (method) {
    case TestMethod::kNone:
      return "none";
    case TestMethod::kWelchT:
      return "welch_t";
    case TestMethod::kZ:
      return "z";
  }
  return "none";
}

Result<void> validate(const CompareOptions& options) {
  auto bad = [](std::string message) {
    return make_error(ErrorCode::kInvalidArgument, std::move(message));
  };
  if (!(options.threshold >= 0) || !std::isfinite(options.threshold)) {
    return bad(fmt::format("threshold must be 0% or more, not {}", options.threshold));
  }
  if (!(options.min_share >= 0 && options.min_share < 1)) {
    return bad(
        fmt::format("min share must be at least 0% and below 100%, not {}", options.min_share));
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return bad(
        fmt::format("confidence must be above 0% and below 100%, not {}", options.confidence));
  }
  return {};
}

size_t Comparison::count(Verdict verdict) const {
  return static_cast<size_t>(
      std::count_if(functions.begin(), functions.end(),
                    [&](const FunctionChange& f) { return f.verdict == verdict; }));
}

size_t Comparison::regression_count() const {
  return count(Verdict::kRegression) + (whole.verdict == Verdict::kRegression ? 1 : 0);
}

TestMethod Comparison::method() const {
  return baseline_sources.size() == 1 && current_sources.size() == 1 ? TestMethod::kZ
                                                                     : TestMethod::kWelchT;
}

Result<Comparison> compare(std::span<const ProfileRun> baseline,
                           std::span<const ProfileRun> current, const CompareOptions& options) {
  if (auto ok = validate(options); !ok) return std::unexpected(ok.error());
  if (baseline.empty()) return make_error(ErrorCode::kInvalidArgument, "no baseline profile");
  if (current.empty()) return make_error(ErrorCode::kInvalidArgument, "no current profile");
  std::vector<const ProfileRun*> all;
  for (const auto& r : baseline) all.push_back(&r);
  for (const auto& r : current) all.push_back(&r);
  for (const ProfileRun* r : all) {
    if (r->profile == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no profile", r->source));
    }
  }
  auto indices = resolve_value_indices(all, options.sample_type);
  if (!indices) return std::unexpected(indices.error());

  const size_t nb = baseline.size(), nc = current.size(), n = all.size();
  Comparison out;
  out.options = options;
  const profile::Profile& first = *all.front()->profile;
  out.sample_type = first.str(first.sample_types[indices->front()].type);
  out.unit = first.str(first.sample_types[indices->front()].unit);
  for (const auto& r : baseline) out.baseline_sources.push_back(r.source);
  for (const auto& r : current) out.current_sources.push_back(r.source);

  std::vector<RunData> runs(n);
  std::unordered_map<std::string, Series> series;
  std::vector<std::string> names;  // first-seen order keeps the result independent of hashing
  for (size_t i = 0; i < n; ++i) {
    RunData& d = runs[i];
    d.run = all[i];
    d.value_index = (*indices)[i];
    d.values = function_values(*d.run->profile, d.value_index);
    if (d.values.total == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: no samples of type {}", d.run->source, out.sample_type));
    }
    d.samples = sample_count(*d.run->profile, d.value_index, d.values);
    for (uint32_t id = 0; id < d.values.values.size(); ++id) {
      const FunctionValue& v = d.values.values[id];
      if (v.self == 0 && v.total == 0) continue;
      std::string name(d.values.stacks.names.get(profile::StringId{id}));
      auto [it, inserted] = series.try_emplace(name);
      if (inserted) {
        it->second.self.assign(n, 0);
        it->second.total.assign(n, 0);
        names.push_back(name);
      }
      it->second.self[i] = v.self;
      it->second.total[i] = v.total;
    }
  }

  // The whole profile: totals per run, floored by the Poisson variance of a sampled total.
  WholeProfileChange& whole = out.whole;
  std::vector<double> base_totals, cur_totals;
  double base_floor = 0, cur_floor = 0;
  for (size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(runs[i].values.total);
    (i < nb ? whole.baseline_totals : whole.current_totals).push_back(runs[i].values.total);
    (i < nb ? whole.baseline_samples : whole.current_samples).push_back(runs[i].samples);
    (i < nb ? base_totals : cur_totals).push_back(t);
  }
  whole.baseline_mean = mean(base_totals);
  whole.current_mean = mean(cur_totals);
  whole.change = relative_change(whole.baseline_mean, whole.current_mean);
  for (size_t i = 0; i < n; ++i) {
    double m = i < nb ? whole.baseline_mean : whole.current_mean;
    double f = runs[i].samples > 0 ? m * m / runs[i].samples : 0;
    (i < nb ? base_floor : cur_floor) += f / static_cast<double>(i < nb ? nb : nc);
  }
  if (options.fixed_workload) {
    whole.test = welch_test(base_totals, base_floor, cur_totals, cur_floor);
  }

  // Function rows.
  for (const std::string& name : names) {
    const Series& s = series.at(name);
    bool total_is_self = s.self == s.total;
    for (ChangeKind kind : {ChangeKind::kSelf, ChangeKind::kTotal}) {
      if (kind == ChangeKind::kTotal && total_is_self) continue;
      const auto& values = kind == ChangeKind::kSelf ? s.self : s.total;
      std::vector<double> bs, cs, bv, cv;
      for (size_t i = 0; i < n; ++i) {
        double v = static_cast<double>(values[i]);
        double share = v / static_cast<double>(runs[i].values.total);
        (i < nb ? bs : cs).push_back(share);
        (i < nb ? bv : cv).push_back(v);
      }
      FunctionChange row;
      row.name = name;
      row.kind = kind;
      row.baseline_share = mean(bs);
      row.current_share = mean(cs);
      row.baseline_value = mean(bv);
      row.current_value = mean(cv);
      if (std::max(std::fabs(row.baseline_share), std::fabs(row.current_share)) <
          options.min_share) {
        ++out.ignored;
        continue;
      }
      row.change = relative_change(row.baseline_share, row.current_share);
      row.value_change = relative_change(row.baseline_value, row.current_value);
      if (row.baseline_share == 0) {
        row.verdict = Verdict::kNew;
      } else if (row.current_share == 0) {
        row.verdict = Verdict::kGone;
      } else {
        if (nb == 1 && nc == 1) {
          row.share_test = two_proportion_z_test(bs[0] * runs[0].samples, runs[0].samples,
                                                 cs[0] * runs[1].samples, runs[1].samples);
        } else {
          double fb = 0, fc = 0;
          for (size_t i = 0; i < n; ++i) {
            double p = i < nb ? row.baseline_share : row.current_share;
            double f = runs[i].samples > 0 ? p * (1 - p) / runs[i].samples : 0;
            (i < nb ? fb : fc) += f / static_cast<double>(i < nb ? nb : nc);
          }
          row.share_test = welch_test(bs, fb, cs, fc);
        }
        row.p_value = row.share_test.p_value;
        if (options.fixed_workload) {
          // A value built of c samples of (total / N) each varies like c: Poisson.
          double fb = 0, fc = 0;
          for (size_t i = 0; i < n; ++i) {
            double v = i < nb ? row.baseline_value : row.current_value;
            double per_sample = runs[i].samples > 0
                                    ? static_cast<double>(runs[i].values.total) / runs[i].samples
                                    : 0;
            (i < nb ? fb : fc) += std::fabs(v) * per_sample / static_cast<double>(i < nb ? nb : nc);
          }
          row.value_test = welch_test(bv, fb, cv, fc);
          bool up = row.share_test.statistic >= 0;
          row.p_value = std::max(row.p_value, p_in_direction(row.value_test, up));
        }
      }
      out.functions.push_back(std::move(row));
    }
  }

  // Benjamini–Hochberg over the function rows, so the chance of a false flag does not grow with
  // the number of functions. The whole profile is its own question and keeps α (see compare.h).
  std::vector<double> p_values;
  for (const auto& f : out.functions) {
    if (f.share_test.method != TestMethod::kNone) p_values.push_back(f.p_value);
  }
  std::vector<double> adjusted = benjamini_hochberg_adjust(p_values);
  size_t next = 0;
  for (auto& f : out.functions) {
    if (f.share_test.method != TestMethod::kNone) f.p_adjusted = adjusted[next++];
  }
  out.tests = p_values.size();

  const double alpha = 1 - options.confidence;
  const double threshold = options.threshold;
  auto direction = [&](double change, double p) {
    if (!(p < alpha)) return Verdict::kUnchanged;
    if (reaches(change, threshold)) return Verdict::kRegression;
    if (reaches(-change, threshold)) return Verdict::kImprovement;
    return Verdict::kUnchanged;
  };
  if (whole.test.method != TestMethod::kNone) {
    whole.verdict = direction(whole.change, whole.test.p_value);
  }
  for (auto& f : out.functions) {
    if (f.share_test.method == TestMethod::kNone) continue;
    f.verdict = direction(f.change, f.p_adjusted);
    if (options.fixed_workload) {
      // Descriptive: would the share alone (uncorrected) have flagged it, while the function's own
      // value did not move the same way by the threshold?
      Verdict by_share = direction(f.change, f.share_test.p_value);
      if (by_share != Verdict::kUnchanged) {
        double own = by_share == Verdict::kRegression ? f.value_change : -f.value_change;
        bool value_followed = reaches(own, threshold);
        f.explained_by_rest = !value_followed;
        if (!value_followed) f.verdict = Verdict::kUnchanged;
      }
    }
  }

  auto rank = [](Verdict v) {
    switch (v) {
      case Verdict::kRegression:
        return 0;
      case Verdict::kImprovement:
        return 1;
      case Verdict::kNew:
        return 2;
      case Verdict::kGone:
        return 3;
      case Verdict::kUnchanged:
        return 4;
    }
    return 4;
  };
  std::sort(out.functions.begin(), out.functions.end(),
            [&](const FunctionChange& a, const FunctionChange& b) {
              if (rank(a.verdict) != rank(b.verdict)) return rank(a.verdict) < rank(b.verdict);
              double da = std::fabs(a.current_share - a.baseline_share);
              double db = std::fabs(b.current_share - b.baseline_share);
              if (da != db) return da > db;
              if (a.name != b.name) return a.name < b.name;
              return a.kind < b.kind;
            });
  return out;
}

}  // namespace ember::analysis
