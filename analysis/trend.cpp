#include "analysis/trend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include "analysis/function_values.h"
#include "analysis/runs.h"

namespace ember::analysis {

namespace {

constexpr double kThresholdTolerance = 1e-9;  // as compare's: a change exactly at the threshold counts

double mean(std::span<const double> v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// The fitted line's change from the first run to the last, relative to its start.
double fitted_change(const SenSlope& s, size_t n) {
  double first = s.intercept, last = s.intercept + s.slope * static_cast<double>(n - 1);
  if (first <= 0) return last > 0 ? INFINITY : 0.0;
  return last / first - 1;
}

// A Mann–Kendall p-value for the alternative pointing `up` (conservatively 1 when S points the
// other way).
double p_towards(const MannKendall& mk, bool up) {
  if (mk.s == 0) return 1;
  return (mk.s > 0) == up ? mk.p_value : 1.0;
}

struct StepCandidate {
  size_t at = 0;
  double p = 1;
  double change = 0;
  double value_change = 0;
};

// The key of a row in compare's output.
std::string row_key(std::string_view name, ChangeKind kind) {
  return fmt::format("{}\x1f{}", name, to_string(kind));
}

bool reaches(double change, double threshold) { return change + kThresholdTolerance >= threshold; }

// Fills the trend half of `e` from the per-run shares (or totals) and values.
void test_trend(TrendEvidence& e, std::span<const double> shares, std::span<const double> values,
                const TrendOptions& options, bool with_values) {
  e.trend = mann_kendall(shares);
  e.slope = sen_slope(shares, options.confidence);
  e.trend_change = fitted_change(e.slope, shares.size());
  e.trend_p = e.trend.p_value;
  if (with_values) {
    MannKendall v = mann_kendall(values);
    e.trend_value_change = fitted_change(sen_slope(values, options.confidence), values.size());
    e.trend_p = std::max(e.trend_p, p_towards(v, e.trend.s >= 0));
  } else {
    e.trend_value_change = e.trend_change;
  }
}

// Decides a row from its two tests, once p_adjusted is known.
void decide(TrendEvidence& e, const TrendOptions& options) {
  const double alpha = 1 - options.confidence;
  e.drift = DriftKind::kNone;
  if (!(e.p_adjusted < alpha)) return;
  bool step_decides = e.step_at != 0 && e.step_p < e.trend_p;
  double change = step_decides ? e.step_change : e.trend_change;
  double value_change = step_decides ? e.step_value_change : e.trend_value_change;
  bool up = change >= 0;
  double sign = up ? 1 : -1;
  if (!reaches(sign * change, options.threshold)) return;
  if (options.fixed_workload && !reaches(sign * value_change, options.threshold)) return;
  e.drift = step_decides ? DriftKind::kStep : DriftKind::kTrend;
  e.direction = up ? DriftDirection::kSlower : DriftDirection::kFaster;
}

void combine(TrendEvidence& e) { e.p_value = std::min(1.0, 2 * std::min(e.trend_p, e.step_p)); }

}  // namespace

std::string_view to_string(DriftKind kind) {
  switch (kind) {
    case DriftKind::kTrend:
      return "trend";
    case DriftKind::kStep:
      return "step";
    case DriftKind::kNone:
      break;
  }
  return "none";
}

std::string_view to_string(DriftDirection direction) {
  return direction == DriftDirection::kSlower ? "slower" : "faster";
}

size_t Trend::drift_count(DriftDirection direction) const {
  size_t n = whole.evidence.drift != DriftKind::kNone && whole.evidence.direction == direction;
  for (const auto& f : functions) {
    n += f.evidence.drift != DriftKind::kNone && f.evidence.direction == direction;
  }
  return n;
}

Result<Trend> trend(std::span<const TrendInput> inputs, const TrendOptions& options) {
  CompareOptions compare_options;
  compare_options.threshold = options.threshold;
  compare_options.min_share = options.min_share;
  compare_options.confidence = options.confidence;
  compare_options.fixed_workload = options.fixed_workload;
  if (auto ok = validate(compare_options); !ok) return std::unexpected(ok.error());
  if (options.min_segment < 1) {
    return make_error(ErrorCode::kInvalidArgument, "a step needs at least 1 run on each side");
  }
  const size_t n = inputs.size();
  if (n < 3) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("a trend needs at least 3 runs, not {}", n));
  }
  std::vector<const ProfileRun*> all;
  for (const auto& in : inputs) {
    if (in.run.profile == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: no profile", in.run.source));
    }
    all.push_back(&in.run);
  }
  auto indices = resolve_value_indices(all, options.sample_type);
  if (!indices) return std::unexpected(indices.error());

  Trend out;
  out.options = options;
  const profile::Profile& first = *all.front()->profile;
  out.sample_type = first.str(first.sample_types[indices->front()].type);
  out.unit = first.str(first.sample_types[indices->front()].unit);

  // CPU time beside the compared value, when every run has it.
  std::vector<std::optional<size_t>> cpu_index(n);
  bool have_cpu = true;
  for (size_t i = 0; i < n; ++i) {
    auto found = all[i]->profile->value_index("cpu");
    if (found && all[i]->profile->str(all[i]->profile->sample_types[*found].unit) == "nanoseconds") {
      cpu_index[i] = *found;
    } else {
      have_cpu = false;
    }
  }

  struct Series {
    std::vector<double> self, total, self_cpu, total_cpu;
  };
  std::unordered_map<std::string, Series> series;
  std::vector<std::string> names;  // first-seen order: independent of hashing
  std::vector<double> totals(n);
  for (size_t i = 0; i < n; ++i) {
    FunctionValues values = function_values(*all[i]->profile, (*indices)[i]);
    if (values.total == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: no samples of type {}", all[i]->source, out.sample_type));
    }
    TrendRun run{all[i]->source, inputs[i].label, values.total, std::nullopt};
    totals[i] = static_cast<double>(values.total);
    std::optional<FunctionValues> cpu;
    if (have_cpu) {
      cpu = function_values(*all[i]->profile, *cpu_index[i]);
      run.cpu_ns = cpu->total;
    }
    out.runs.push_back(std::move(run));
    auto add = [&](const FunctionValues& v, bool is_cpu) {
      for (uint32_t id = 0; id < v.values.size(); ++id) {
        const FunctionValue& fv = v.values[id];
        if (fv.self == 0 && fv.total == 0) continue;
        std::string name(v.stacks.names.get(profile::StringId{id}));
        auto [it, inserted] = series.try_emplace(name);
        if (inserted) {
          for (auto* s : {&it->second.self, &it->second.total, &it->second.self_cpu,
                          &it->second.total_cpu}) {
            s->assign(n, 0);
          }
          names.push_back(name);
        }
        (is_cpu ? it->second.self_cpu : it->second.self)[i] = static_cast<double>(fv.self);
        (is_cpu ? it->second.total_cpu : it->second.total)[i] = static_cast<double>(fv.total);
      }
    };
    add(values, false);
    if (cpu) add(*cpu, true);
  }

  // Step tests: compare itself between the runs before and after every split.
  std::vector<std::map<std::string, StepCandidate>> splits;  // per split: row key → result
  std::vector<StepCandidate> whole_splits;
  compare_options.min_share = 0;  // every row is wanted; relevance is decided over all runs
  compare_options.sample_type = out.sample_type;
  std::vector<ProfileRun> ordered;
  for (const auto& in : inputs) ordered.push_back(in.run);
  for (size_t k = options.min_segment; k + options.min_segment <= n; ++k) {
    std::span<const ProfileRun> before(ordered.data(), k), after(ordered.data() + k, n - k);
    auto c = compare(before, after, compare_options);
    if (!c) return std::unexpected(c.error());
    std::map<std::string, StepCandidate> rows;
    for (const FunctionChange& f : c->functions) {
      if (f.share_test.method == TestMethod::kNone) continue;
      rows[row_key(f.name, f.kind)] = StepCandidate{k, f.p_value, f.change, f.value_change};
    }
    splits.push_back(std::move(rows));
    whole_splits.push_back(StepCandidate{k, c->whole.test.p_value, c->whole.change, c->whole.change});
  }
  out.splits = splits.size();
  auto best_step = [&](TrendEvidence& e, auto&& candidate_at) {
    StepCandidate best;
    for (size_t s = 0; s < splits.size(); ++s) {
      std::optional<StepCandidate> c = candidate_at(s);
      if (c && (best.at == 0 || c->p < best.p)) best = *c;
    }
    e.step_at = best.at;
    e.step_change = best.change;
    e.step_value_change = best.value_change;
    e.step_p = std::min(1.0, best.p * static_cast<double>(std::max<size_t>(1, splits.size())));
  };

  // The whole profile: its totals per run.
  out.whole.name = "[whole profile]";
  out.whole.kind = ChangeKind::kTotal;
  out.whole.shares.assign(n, 1.0);
  out.whole.values = totals;
  out.whole.mean_share = 1;
  for (const auto& r : out.runs) {
    if (r.cpu_ns) out.whole.cpu_ns.push_back(static_cast<double>(*r.cpu_ns));
  }
  if (options.fixed_workload) {
    TrendEvidence& e = out.whole.evidence;
    test_trend(e, totals, totals, options, false);
    best_step(e, [&](size_t s) -> std::optional<StepCandidate> { return whole_splits[s]; });
    combine(e);
    e.p_adjusted = e.p_value;  // on its own at α, as compare's whole profile
    decide(e, options);
  }

  // Function rows.
  for (const std::string& name : names) {
    const Series& s = series.at(name);
    if (options.function && !options.function->search(name)) {
      out.ignored += 1 + (s.self != s.total);
      continue;
    }
    for (ChangeKind kind : {ChangeKind::kSelf, ChangeKind::kTotal}) {
      if (kind == ChangeKind::kTotal && s.self == s.total) continue;
      TrendRow row;
      row.name = name;
      row.kind = kind;
      row.values = kind == ChangeKind::kSelf ? s.self : s.total;
      for (size_t i = 0; i < n; ++i) row.shares.push_back(row.values[i] / totals[i]);
      if (have_cpu) row.cpu_ns = kind == ChangeKind::kSelf ? s.self_cpu : s.total_cpu;
      row.mean_share = mean(row.shares);
      if (std::fabs(row.mean_share) < options.min_share) {
        ++out.ignored;
        continue;
      }
      TrendEvidence& e = row.evidence;
      test_trend(e, row.shares, row.values, options, options.fixed_workload);
      std::string key = row_key(name, kind);
      best_step(e, [&](size_t sp) -> std::optional<StepCandidate> {
        auto it = splits[sp].find(key);
        if (it == splits[sp].end()) return std::nullopt;
        return it->second;
      });
      combine(e);
      out.functions.push_back(std::move(row));
    }
  }

  std::vector<double> p_values;
  for (const auto& f : out.functions) p_values.push_back(f.evidence.p_value);
  std::vector<double> adjusted = benjamini_hochberg_adjust(p_values);
  for (size_t i = 0; i < out.functions.size(); ++i) {
    out.functions[i].evidence.p_adjusted = adjusted[i];
    decide(out.functions[i].evidence, options);
  }
  out.tests = p_values.size();

  auto rank = [](const TrendRow& r) {
    if (r.evidence.drift == DriftKind::kNone) return 2;
    return r.evidence.direction == DriftDirection::kSlower ? 0 : 1;
  };
  std::sort(out.functions.begin(), out.functions.end(), [&](const TrendRow& a, const TrendRow& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (rank(a) < 2 && a.evidence.p_adjusted != b.evidence.p_adjusted) {
      return a.evidence.p_adjusted < b.evidence.p_adjusted;
    }
    if (a.mean_share != b.mean_share) return a.mean_share > b.mean_share;
    if (a.name != b.name) return a.name < b.name;
    return a.kind < b.kind;
  });
  return out;
}

std::vector<const TrendRow*> shown_rows(const Trend& trend, size_t top) {
  std::vector<const TrendRow*> rows;
  size_t others = 0;
  for (const auto& f : trend.functions) {
    if (f.evidence.drift != DriftKind::kNone) {
      rows.push_back(&f);
    } else if (top == 0 || others < top) {
      rows.push_back(&f);
      ++others;
    }
  }
  return rows;
}

}  // namespace ember::analysis
