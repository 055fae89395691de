#include "daemon/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>

#include "common/files.h"
#include "daemon/process_resources.h"

namespace ember::daemon {

namespace {
std::string escape_help(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}
std::string escape_label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}
}  // namespace

void PrometheusText::header(std::string_view name, std::string_view type, std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

void PrometheusText::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      out_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape_label(labels[i].second));
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

SelfUsage read_self_usage() {
  SelfUsage u;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  auto text = common::read_file("/proc/self/stat", 8192);
  if (auto stat = text ? parse_proc_stat(*text) : std::unexpected(text.error())) {
    u.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks;
    u.threads = static_cast<uint64_t>(stat->threads);
    u.virtual_bytes = stat->vsize_bytes;
    u.rss_bytes = static_cast<uint64_t>(std::max<int64_t>(stat->rss_pages, 0)) * page;
    double boot = 0;
    if (auto s = common::read_file("/proc/stat", 1 << 20)) {
      size_t at = s->find("\nbtime ");
      if (at != std::string::npos) boot = std::strtod(s->c_str() + at + 7, nullptr);
    }
    u.start_time_seconds = boot + static_cast<double>(stat->start_ticks) / ticks;
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') u.open_fds++;
    }
    ::closedir(d);
    if (u.open_fds > 0) u.open_fds--;  // the directory itself
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) u.max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : rl.rlim_cur;
  return u;
}

}  // namespace ember::daemon
