#include "daemon/metrics.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/files.h"

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
  if (auto stat = common::read_file("/proc/self/stat", 8192)) {
    // The name (field 2) is in parentheses and may contain spaces: fields are counted after ')'.
    size_t close = stat->rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(stat->substr(close + 2));
      std::vector<std::string> f;
      std::string field;
      while (in >> field) f.push_back(field);
      // Field 3 (state) is f[0]; utime is field 14, stime 15, num_threads 20, starttime 22,
      // vsize 23, rss 24.
      auto num = [&](size_t field_number) -> double {
        size_t i = field_number - 3;
        return i < f.size() ? std::strtod(f[i].c_str(), nullptr) : 0;
      };
      u.cpu_seconds = (num(14) + num(15)) / ticks;
      u.threads = static_cast<uint64_t>(num(20));
      u.virtual_bytes = static_cast<uint64_t>(num(23));
      u.rss_bytes = static_cast<uint64_t>(num(24)) * page;
      double boot = 0;
      if (auto s = common::read_file("/proc/stat", 1 << 20)) {
        size_t at = s->find("\nbtime ");
        if (at != std::string::npos) boot = std::strtod(s->c_str() + at + 7, nullptr);
      }
      u.start_time_seconds = boot + num(22) / ticks;
    }
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
