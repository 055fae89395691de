#include "daemon/target_filter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

namespace ember::daemon {

namespace {
constexpr size_t kMaxUntrustedPattern = 256;
}  // namespace

Result<common::Regex> compile_regex(std::string_view pattern, bool untrusted) {
  return common::Regex::compile(pattern, untrusted ? kMaxUntrustedPattern : common::Regex::kMaxPatternChars);
}

Result<void> check_target_regex(std::string_view pattern) {
  auto r = compile_regex(pattern, false);
  if (!r) return std::unexpected(r.error());
  return {};
}

bool cgroup_selected(std::string_view cgroup, std::string_view selector) {
  while (selector.size() > 1 && selector.ends_with('/')) selector.remove_suffix(1);
  if (selector == "/") return !cgroup.empty();
  if (!cgroup.starts_with(selector)) return false;
  return cgroup.size() == selector.size() || cgroup[selector.size()] == '/';
}

Result<ProcessFilter> make_process_filter(const TargetConfig& targets) {
  if (targets.all) return ProcessFilter{};
  struct Selectors {
    std::unordered_set<int32_t> pids;
    std::vector<common::Regex> names;
    std::vector<std::string> cgroups;
  };
  auto sel = std::make_shared<Selectors>();
  sel->pids.insert(targets.pids.begin(), targets.pids.end());
  for (const std::string& n : targets.names) {
    auto re = compile_regex(n, false);
    if (!re) return std::unexpected(re.error());
    sel->names.push_back(std::move(*re));
  }
  sel->cgroups = targets.cgroups;
  // The filter runs on the collector thread only; the selectors are never changed after this.
  return ProcessFilter([sel](const collector::ProcessInfo& p) {
    if (sel->pids.contains(p.pid)) return true;
    for (const common::Regex& re : sel->names) {
      if (re.search(p.comm)) return true;
      if (!p.exe.empty() && re.search(p.exe)) return true;
    }
    if (!sel->cgroups.empty()) {
      std::string_view cg = p.cgroup();
      for (const std::string& s : sel->cgroups) {
        if (cgroup_selected(cg, s)) return true;
      }
    }
    return false;
  });
}

std::string describe_targets(const TargetConfig& t) {
  if (t.all) return "all processes";
  std::string out;
  auto add = [&](std::string_view what, const auto& items) {
    if (items.empty()) return;
    if (!out.empty()) out += "; ";
    out += fmt::format("{} {}", what, fmt::join(items, ","));
  };
  add("pids", t.pids);
  add("names", t.names);
  add("cgroups", t.cgroups);
  return out;
}

}  // namespace ember::daemon
