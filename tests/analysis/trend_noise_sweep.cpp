// Not a test: measures how often `ember trend` raises a drift on histories of an unchanged
// program (false alarms), and how often it finds hash made 3% or 5% slower per run, or 30% slower
// from the middle run on, for analysis/README.md.
//   trend_noise_sweep [HISTORIES]   (default 200 per row)

#include <fmt/format.h>

#include <cstdlib>

#include "analysis/trend.h"
#include "synthetic.h"

using namespace ember::analysis;
using namespace ember::analysis::synthetic;

namespace {

struct Rates {
  double any_drift = 0;     // a drift slower or faster anywhere
  double hash_flagged = 0;  // hash self drifting slower
};

Rates sweep(size_t histories, size_t runs, const RunShape& shape, double per_run, double step) {
  size_t any = 0, hash = 0;
  for (uint64_t seed = 1; seed <= histories; ++seed) {
    Rng rng(seed * 7919);
    std::vector<ember::profile::Profile> profiles;
    for (size_t i = 0; i < runs; ++i) {
      double factor = std::pow(per_run, static_cast<double>(i)) * (i >= runs / 2 ? step : 1.0);
      profiles.push_back(record(with_weight(program(), "main;compute;hash", factor), rng, shape));
    }
    std::vector<TrendInput> inputs;
    for (size_t i = 0; i < runs; ++i) inputs.push_back({{fmt::format("r{}", i), &profiles[i]}, ""});
    auto t = trend(inputs);
    if (!t) {
      fmt::print(stderr, "{}\n", t.error().message());
      std::exit(1);
    }
    any += t->drift_count(DriftDirection::kSlower) + t->drift_count(DriftDirection::kFaster) > 0;
    for (const auto& f : t->functions) {
      hash += f.name == "hash" && f.kind == ChangeKind::kSelf && f.evidence.drift != DriftKind::kNone &&
              f.evidence.direction == DriftDirection::kSlower;
    }
  }
  return {100.0 * any / histories, 100.0 * hash / histories};
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200;
  RunShape jittered{.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02};
  RunShape clean{.samples_per_unit = 100};
  fmt::print("| runs | noise | unchanged: any drift | hash +3%/run | hash +5%/run | hash +30% step |\n");
  fmt::print("|---:|---|---:|---:|---:|---:|\n");
  for (size_t runs : {6, 10, 20}) {
    for (auto [name, shape] : {std::pair{"sampling only", clean}, std::pair{"3% jitter", jittered}}) {
      Rates none = sweep(n, runs, shape, 1.0, 1.0);
      Rates slow3 = sweep(n, runs, shape, 1.03, 1.0);
      Rates slow5 = sweep(n, runs, shape, 1.05, 1.0);
      Rates stepped = sweep(n, runs, shape, 1.0, 1.3);
      fmt::print("| {} | {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f}% |\n", runs, name, none.any_drift,
                 slow3.hash_flagged, slow5.hash_flagged, stepped.hash_flagged);
    }
  }
  return 0;
}
