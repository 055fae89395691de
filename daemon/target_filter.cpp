#include "daemon/target_filter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

namespace ember::daemon {

namespace {
constexpr size_t kMaxUntrustedPattern = 256;
constexpr size_t kMaxTrustedPattern = 4096;

// "{" that is not written as "\{" (a literal brace, as regex_escape writes one).
bool has_unescaped_brace(std::string_view p) {
  bool escaped = false;
  for (char c : p) {
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '{') {
      return true;
    }
  }
  return false;
}
}  // namespace

std::string regex_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

Result<std::regex> compile_regex(std::string_view pattern, bool untrusted) {
  if (pattern.size() > (untrusted ? kMaxUntrustedPattern : kMaxTrustedPattern)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("regex is longer than {} characters",
                                  untrusted ? kMaxUntrustedPattern : kMaxTrustedPattern));
  }
  if (untrusted && has_unescaped_brace(pattern)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("regex '{}': {{n,m}} repetition is not accepted in queries", pattern));
  }
  try {
    return std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid regex '{}': {}", pattern, e.what()));
  }
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
    std::vector<std::regex> names;
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
    for (const std::regex& re : sel->names) {
      if (std::regex_search(p.comm.begin(), p.comm.end(), re)) return true;
      if (!p.exe.empty() && std::regex_search(p.exe.begin(), p.exe.end(), re)) return true;
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
