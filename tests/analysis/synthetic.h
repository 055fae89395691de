#pragma once
// Synthetic recordings for testing the regression gate: samples drawn with a seeded RNG from a
// known call tree, as a sampling profiler would record a program with that cost structure.
// Shared by noise_test.cpp (assertions) and noise_sweep.cpp (measured rates for the docs).

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "profile/builder.h"

namespace ember::analysis::synthetic {

struct Leaf {
  std::string stack;  // root first, ';'-separated
  double weight;      // cost of this stack per unit of work
};

// A small program: hash and sort under compute, parsing, output, two small functions near and
// below min_share. Weights add up to 100.
inline std::vector<Leaf> program() {
  return {{"main", 2},
          {"main;parse", 8},
          {"main;parse;tokenize", 10},
          {"main;compute", 5},
          {"main;compute;hash", 20},
          {"main;compute;sort", 15},
          {"main;compute;sort;compare_keys", 5},
          {"main;write_output", 20},
          {"main;write_output;memcpy", 14},
          {"main;log_debug", 0.7},
          {"main;rare", 0.3}};
}

inline std::vector<Leaf> with_weight(std::vector<Leaf> leaves, std::string_view stack,
                                     double factor) {
  for (auto& l : leaves) {
    if (l.stack == stack) l.weight *= factor;
  }
  return leaves;
}

// Own draws from mt19937_64's raw output: the standard distributions are not specified
// bit-for-bit, and the test must see the same samples everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double normal() {  // Box–Muller
    double u1 = 1 - uniform(), u2 = uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

struct RunShape {
  double samples_per_unit = 100;  // samples for a weight of 1: 100 → 10000 for the whole program
  double run_jitter = 0;          // relative sd of each stack's cost from run to run
  double total_jitter = 0.01;     // relative sd of the run's length
};

// One recording: the run's sample count follows the program's cost (a fixed workload), each
// sample picks a stack in proportion to its weight. Sample types samples/count and
// cpu/nanoseconds (10 ms per sample), default samples, as ember records.
inline profile::Profile record(const std::vector<Leaf>& leaves, Rng& rng, const RunShape& shape) {
  std::vector<double> cumulative;
  double sum = 0;
  for (const auto& l : leaves) {
    double w = l.weight * std::max(0.0, 1 + shape.run_jitter * rng.normal());
    sum += w;
    cumulative.push_back(sum);
  }
  auto n = static_cast<int64_t>(
      std::llround(sum * shape.samples_per_unit * (1 + shape.total_jitter * rng.normal())));
  std::vector<int64_t> counts(leaves.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    double u = rng.uniform() * sum;
    size_t k = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) -
                                   cumulative.begin());
    ++counts[std::min(k, leaves.size() - 1)];
  }

  profile::ProfileBuilder b;
  std::pair<std::string_view, std::string_view> types[] = {{"samples", "count"},
                                                           {"cpu", "nanoseconds"}};
  b.set_sample_types(types);
  b.profile().default_sample_type = b.intern("samples");
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (counts[i] == 0) continue;
    std::vector<profile::LocationId> leaf_first;
    std::string_view rest = leaves[i].stack;
    std::vector<std::string_view> frames;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      frames.push_back(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    }
    for (size_t f = frames.size(); f-- > 0;) {
      profile::Line line{b.add_function(frames[f], frames[f], "app.cc"), 1, 0};
      // One location per (function, depth) is enough for a test: fold names frames by function.
      leaf_first.push_back(b.add_location(
          profile::MappingId{}, 0x1000 * (f + 1) + line.function.value, std::span(&line, 1)));
    }
    int64_t values[] = {counts[i], counts[i] * 10'000'000};
    b.add_sample(leaf_first, values, {});
  }
  return std::move(b).finish();
}

struct Recordings {
  std::vector<profile::Profile> baseline;
  std::vector<profile::Profile> current;
};

inline Recordings record_both(const std::vector<Leaf>& base, const std::vector<Leaf>& cur,
                              uint64_t seed, size_t runs, const RunShape& shape) {
  Rng rng(seed);
  Recordings r;
  for (size_t i = 0; i < runs; ++i) r.baseline.push_back(record(base, rng, shape));
  for (size_t i = 0; i < runs; ++i) r.current.push_back(record(cur, rng, shape));
  return r;
}

inline Result<Comparison> compare_recordings(const Recordings& r,
                                             const CompareOptions& options = {}) {
  std::vector<ProfileRun> b, c;
  for (size_t i = 0; i < r.baseline.size(); ++i) {
    b.push_back({fmt::format("base{}", i), &r.baseline[i]});
  }
  for (size_t i = 0; i < r.current.size(); ++i) {
    c.push_back({fmt::format("cur{}", i), &r.current[i]});
  }
  return compare(b, c, options);
}

inline std::vector<std::string> with_verdict(const Comparison& c, Verdict verdict) {
  std::vector<std::string> out;
  for (const auto& f : c.functions) {
    if (f.verdict == verdict) out.push_back(fmt::format("{}/{}", f.name, to_string(f.kind)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ember::analysis::synthetic
