#include "cli/python_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "cli/io.h"
#include "collector/python_stacks.h"

namespace ember::cli {

// One line on how Python frames went, for the summary: the share of samples of Python
// processes with their Python frames, and why the others have none.
std::string python_summary(const collector::CollectorStats& p) {
  const uint64_t merged = p.python_merged + p.python_merged_below_cut;
  const uint64_t stale = p.python_stale_fewer + p.python_stale_more;
  const uint64_t total = merged + stale + p.python_no_eval_frames + p.python_not_in_python + p.python_read_missed + p.python_not_read;
  std::string line = fmt::format("Python: {} interpreter{}, Python frames in {} of {} samples ({:.1f}%)",
                                 thousands(p.python_attached), p.python_attached == 1 ? "" : "s", thousands(merged),
                                 thousands(total), total ? 100.0 * static_cast<double>(merged) / static_cast<double>(total) : 0.0);
  if (p.python_kernel_reads && p.python_stacks_read) {
    line += fmt::format(", {:.1f}% of stacks read in the kernel at their sample",
                        std::min(100.0, 100.0 * static_cast<double>(p.python_kernel_reads) /
                                            static_cast<double>(p.python_stacks_read)));
  }
  std::vector<std::string> others;
  if (stale) others.push_back(fmt::format("{} read after the stack changed", thousands(stale)));
  if (p.python_not_in_python) others.push_back(fmt::format("{} not in Python", thousands(p.python_not_in_python)));
  if (p.python_no_eval_frames) others.push_back(fmt::format("{} outside the eval loop", thousands(p.python_no_eval_frames)));
  if (p.python_read_missed) {
    others.push_back(fmt::format("{} reads missed ({} process gone, {} unreadable, {} damaged, {} too deep, "
                                 "{} changing while read)",
                                 thousands(p.python_read_missed), thousands(p.python_miss_process_gone),
                                 thousands(p.python_miss_read_failed), thousands(p.python_miss_bad_object),
                                 thousands(p.python_miss_chain_too_long), thousands(p.python_miss_stack_changed)));
  }
  if (p.python_not_read) others.push_back(fmt::format("{} not read (limits)", thousands(p.python_not_read)));
  for (size_t i = 0; i < others.size(); ++i) line += (i == 0 ? "; " : ", ") + others[i];
  const uint64_t off_cpu_blocks = p.python_off_cpu_merged + p.python_off_cpu_ran_again + p.python_off_cpu_unmerged;
  if (off_cpu_blocks + p.python_off_cpu_over_budget) {
    line += fmt::format("; Python frames in {} of {} off-CPU blocks read", thousands(p.python_off_cpu_merged),
                        thousands(off_cpu_blocks));
    if (p.python_off_cpu_ran_again) line += fmt::format(", {} read after the thread ran again", thousands(p.python_off_cpu_ran_again));
    if (p.python_off_cpu_over_budget) {
      line += fmt::format(", {} switch-outs not read (over {:.0f} a second)", thousands(p.python_off_cpu_over_budget),
                          collector::kOffCpuPythonReadsPerSecond);
    }
  }
  if (p.python_unsupported + p.python_attach_failed) {
    line += fmt::format("; {} interpreter{} could not be read", thousands(p.python_unsupported + p.python_attach_failed),
                        p.python_unsupported + p.python_attach_failed == 1 ? "" : "s");
  }
  return line;
}

}  // namespace ember::cli
