// Measures the regression gate on synthetic recordings over many seeds and prints the rates as a
// Markdown table (recorded in analysis/README.md; rates are measured, never asserted):
//   - with nothing changed: how often the gate fails, and how often any improvement is claimed;
//   - with hash made twice as slow: how often hash (self), compute (total) and the whole profile
//     are flagged, and how often an unrelated function is claimed to have improved.
// Usage: analysis_noise_sweep [null_seeds=400] [slow_seeds=200]

#include <cstdio>
#include <cstdlib>

#include "synthetic.h"

using namespace ember::analysis;
using namespace ember::analysis::synthetic;

namespace {

struct Config {
  const char* name;
  size_t runs;
  RunShape shape;
};

double percent(int hits, int total) { return 100.0 * hits / total; }

}  // namespace

int main(int argc, char** argv) {
  int null_seeds = argc > 1 ? std::atoi(argv[1]) : 400;
  int slow_seeds = argc > 2 ? std::atoi(argv[2]) : 200;
  if (null_seeds <= 0 || slow_seeds <= 0) {
    std::fprintf(stderr, "usage: %s [null_seeds] [slow_seeds]\n", argv[0]);
    return 2;
  }
  const Config configs[] = {
      {"1 run, 10k samples", 1, {.samples_per_unit = 100}},
      {"1 run, 2k samples", 1, {.samples_per_unit = 20}},
      {"3 runs, sampling noise only", 3, {.samples_per_unit = 100}},
      {"3 runs, 3% jitter", 3, {.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02}},
      {"5 runs, 3% jitter", 5, {.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02}},
      {"10 runs, 3% jitter",
       10,
       {.samples_per_unit = 100, .run_jitter = 0.03, .total_jitter = 0.02}},
  };
  std::printf(
      "| runs per side | unchanged: gate fails | unchanged: improvement claimed | "
      "2x: hash self | 2x: compute total | 2x: whole profile | 2x: false improvement |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  const auto slow = with_weight(program(), "main;compute;hash", 2.0);
  for (const Config& config : configs) {
    int gate = 0, improved = 0;
    for (int s = 1; s <= null_seeds; ++s) {
      auto c = compare_recordings(
          record_both(program(), program(), 100000 + s, config.runs, config.shape));
      if (!c) {
        std::fprintf(stderr, "%s\n", c.error().message().c_str());
        return 1;
      }
      gate += c->regressed();
      improved += c->count(Verdict::kImprovement) > 0;
    }
    int hash = 0, compute = 0, whole = 0, false_improvement = 0;
    for (int s = 1; s <= slow_seeds; ++s) {
      auto c =
          compare_recordings(record_both(program(), slow, 200000 + s, config.runs, config.shape));
      if (!c) {
        std::fprintf(stderr, "%s\n", c.error().message().c_str());
        return 1;
      }
      auto flagged = with_verdict(*c, Verdict::kRegression);
      hash += std::count(flagged.begin(), flagged.end(), "hash/self");
      compute += std::count(flagged.begin(), flagged.end(), "compute/total");
      whole += c->whole.verdict == Verdict::kRegression;
      false_improvement += c->count(Verdict::kImprovement) > 0;
    }
    std::printf("| %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", config.name,
                percent(gate, null_seeds), percent(improved, null_seeds), percent(hash, slow_seeds),
                percent(compute, slow_seeds), percent(whole, slow_seeds),
                percent(false_improvement, slow_seeds));
  }
  return 0;
}
