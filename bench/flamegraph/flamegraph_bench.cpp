// Renders a large synthetic profile and prints how long it took and how big the SVG is.
//   build/bench/flamegraph/flamegraph_bench [--stacks N] [--depth D] [--runs R] [--out FILE]
// With flamegraph.pl or inferno-flamegraph on the PATH, renders the same folded stacks with them
// for comparison (they are not fetched: only what is installed is compared).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "flamegraph/flamegraph.h"

namespace {

using Clock = std::chrono::steady_clock;
using ember::profile::FoldedStacks;
using ember::profile::StringId;

// Names shaped like real C++ symbols, some kernel and JIT frames among them.
std::vector<std::string> make_names(size_t count, std::mt19937_64& rng) {
  static const char* kSpaces[] = {"std", "boost::asio", "ember::collector", "absl", "app::net",
                                  "app::db", "folly", "grpc::internal"};
  static const char* kArgs[] = {"()", "(int)", "(std::string const&)", "(void*, unsigned long)",
                                "(std::vector<int, std::allocator<int> >&)"};
  std::vector<std::string> names;
  names.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (i % 23 == 0) {
      names.push_back(fmt::format("do_syscall_{}_[k]", i));
    } else if (i % 31 == 0) {
      names.push_back(fmt::format("LazyCompile:*handler{}_[j]", i));
    } else {
      names.push_back(fmt::format("{}::Class{}::method_{}{}", kSpaces[rng() % 8], i % 97, i,
                                  kArgs[rng() % 5]));
    }
  }
  return names;
}

// `stacks` distinct stacks of `depth` frames. Each frame is picked among a few children of its
// parent, the first ones far more often, so that stacks share prefixes as real ones do. Profiles
// made with different seeds share their names, as two profiles of one program do.
FoldedStacks make_profile(size_t stacks, size_t depth, uint64_t seed) {
  std::mt19937_64 name_rng(42);
  auto names = make_names(4000, name_rng);
  std::mt19937_64 rng(seed);
  FoldedStacks folded;
  std::vector<StringId> ids;
  for (const auto& n : names) ids.push_back(folded.names.intern(n));
  std::set<std::vector<StringId>> seen;
  std::geometric_distribution<int> child(0.35);
  std::uniform_int_distribution<int> value(1, 1000);
  std::vector<StringId> stack;
  while (folded.stacks.size() < stacks) {
    stack.clear();
    uint64_t node = 1;
    for (size_t d = 0; d < depth; ++d) {
      node = node * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(child(rng)) + 1;
      stack.push_back(ids[(node >> 17) % ids.size()]);
    }
    if (!seen.insert(stack).second) continue;
    int64_t v = value(rng);
    if (rng() % 50 == 0) v *= 100;  // a few hot stacks
    folded.stacks.push_back({stack, v});
  }
  return folded;
}

template <class F>
double best_of(int runs, F&& f) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return best;
}

size_t count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

void compare_with(const char* tool, const std::string& command_line) {
  if (std::system(fmt::format("command -v {} >/dev/null 2>&1", tool).c_str()) != 0) {
    fmt::print("{:<22} not installed, not compared\n", tool);
    return;
  }
  auto start = Clock::now();
  int status = std::system(command_line.c_str());
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::ifstream out("/tmp/ember-fg-bench-other.svg", std::ios::binary | std::ios::ate);
  fmt::print("{:<22} {:8.1f} ms  {:6.2f} MB{}\n", tool, ms, out ? double(out.tellg()) / 1e6 : 0.0,
             status == 0 ? "" : "  (failed)");
}

}  // namespace

int main(int argc, char** argv) {
  size_t stacks = 100'000, depth = 30;
  int runs = 5;
  std::string out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--stacks") stacks = std::stoul(argv[i + 1]);
    else if (flag == "--depth") depth = std::stoul(argv[i + 1]);
    else if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--out") out_path = argv[i + 1];
    else {
      fmt::print(stderr, "usage: {} [--stacks N] [--depth D] [--runs R] [--out FILE]\n", argv[0]);
      return 2;
    }
  }

  FoldedStacks current = make_profile(stacks, depth, 1);
  FoldedStacks baseline = make_profile(stacks, depth, 2);
  std::string folded_text = ember::profile::format_folded(current);
  fmt::print("input: {} unique stacks, depth {}, {} distinct names, {:.2f} MB folded\n",
             current.stacks.size(), depth, current.names.size() - 1, double(folded_text.size()) / 1e6);

  ember::flamegraph::SvgOptions options;
  std::string svg;
  double ms = best_of(runs, [&] { svg = ember::flamegraph::render_svg(current, options); });
  fmt::print("render_svg             {:8.1f} ms  {:6.2f} MB  {} frames drawn (min_width {} px)\n", ms,
             double(svg.size()) / 1e6, count(svg, "<rect x="), options.min_width);

  ember::flamegraph::DiffOptions diff_options;
  std::string diff;
  double diff_ms = best_of(runs, [&] {
    diff = ember::flamegraph::render_diff_svg(baseline, current, diff_options);
  });
  fmt::print("render_diff_svg        {:8.1f} ms  {:6.2f} MB\n", diff_ms, double(diff.size()) / 1e6);

  if (!out_path.empty()) std::ofstream(out_path, std::ios::binary) << svg;

  std::ofstream("/tmp/ember-fg-bench.folded", std::ios::binary) << folded_text;
  compare_with("flamegraph.pl",
               "flamegraph.pl /tmp/ember-fg-bench.folded > /tmp/ember-fg-bench-other.svg");
  compare_with("inferno-flamegraph",
               "inferno-flamegraph /tmp/ember-fg-bench.folded > /tmp/ember-fg-bench-other.svg");
  std::remove("/tmp/ember-fg-bench.folded");
  std::remove("/tmp/ember-fg-bench-other.svg");
  return 0;
}
