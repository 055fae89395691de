#include "cli/python_summary.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "cli/io.h"

namespace ember::cli {

// One line on how Python frames went, for the summary: the share of samples of Python
// processes with their Python frames, and why the others have none.
std::string python_summary(const collector::PythonStats& p) {
  const uint64_t merged = p.merged + p.merged_below_cut;
  const uint64_t stale = p.stale_fewer + p.stale_more;
  const uint64_t total = merged + stale + p.no_eval_frames + p.no_python_thread + p.read_missed + p.not_read;
  std::string line = fmt::format("Python: {} interpreter{}, Python frames in {} of {} samples ({:.1f}%)",
                                 thousands(p.attached), p.attached == 1 ? "" : "s", thousands(merged),
                                 thousands(total), total ? 100.0 * static_cast<double>(merged) / static_cast<double>(total) : 0.0);
  std::vector<std::string> others;
  if (stale) others.push_back(fmt::format("{} read after the stack changed", thousands(stale)));
  if (p.no_python_thread) others.push_back(fmt::format("{} not in Python", thousands(p.no_python_thread)));
  if (p.no_eval_frames) others.push_back(fmt::format("{} outside the eval loop", thousands(p.no_eval_frames)));
  if (p.read_missed) {
    others.push_back(fmt::format("{} reads missed ({} process gone, {} unreadable, {} damaged, {} too deep, "
                                 "{} changing while read)",
                                 thousands(p.read_missed), thousands(p.miss_process_gone),
                                 thousands(p.miss_read_failed), thousands(p.miss_bad_object),
                                 thousands(p.miss_chain_too_long), thousands(p.miss_stack_changed)));
  }
  if (p.not_read) others.push_back(fmt::format("{} not read (limits)", thousands(p.not_read)));
  for (size_t i = 0; i < others.size(); ++i) line += (i == 0 ? "; " : ", ") + others[i];
  const uint64_t off_cpu_blocks = p.off_cpu_merged + p.off_cpu_ran_again + p.off_cpu_unmerged;
  if (off_cpu_blocks + p.off_cpu_over_budget) {
    line += fmt::format("; Python frames in {} of {} off-CPU blocks read", thousands(p.off_cpu_merged),
                        thousands(off_cpu_blocks));
    if (p.off_cpu_ran_again) line += fmt::format(", {} read after the thread ran again", thousands(p.off_cpu_ran_again));
    if (p.off_cpu_over_budget) {
      line += fmt::format(", {} switch-outs not read (over {:.0f} a second)", thousands(p.off_cpu_over_budget),
                          collector::kOffCpuPythonReadsPerSecond);
    }
  }
  if (p.unsupported + p.attach_failed) {
    line += fmt::format("; {} interpreter{} could not be read", thousands(p.unsupported + p.attach_failed),
                        p.unsupported + p.attach_failed == 1 ? "" : "s");
  }
  return line;
}

nlohmann::json python_json(const collector::PythonStats& p) {
  return {{"interpreters", p.attached},
          {"unsupported", p.unsupported},
          {"attach_failed", p.attach_failed},
          {"merged", p.merged},
          {"merged_below_cut", p.merged_below_cut},
          {"stale_fewer_python", p.stale_fewer},
          {"stale_more_python", p.stale_more},
          {"no_eval_frames", p.no_eval_frames},
          {"not_in_python", p.no_python_thread},
          {"read_missed", p.read_missed},
          {"not_read", p.not_read},
          {"miss_process_gone", p.miss_process_gone},
          {"miss_read_failed", p.miss_read_failed},
          {"miss_bad_object", p.miss_bad_object},
          {"miss_chain_too_long", p.miss_chain_too_long},
          {"miss_stack_changed", p.miss_stack_changed},
          {"trampolines", p.trampolines},
          {"off_cpu_read", p.off_cpu_read},
          {"off_cpu_over_budget", p.off_cpu_over_budget},
          {"off_cpu_merged", p.off_cpu_merged},
          {"off_cpu_ran_again", p.off_cpu_ran_again},
          {"off_cpu_unmerged", p.off_cpu_unmerged},
          {"read_ns", p.read_ns}};
}

}  // namespace ember::cli
