#include "collector/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include "common/files.h"

namespace ember::collector {

namespace {

// /proc files are small but "regular" files of size 0; read them through the safe reader.
constexpr size_t kMaxProcFileBytes = 64u << 20;  // maps of a process with a huge number of mappings

std::optional<std::string> read_proc_file(const std::string& path, size_t max = kMaxProcFileBytes) {
  auto text = common::read_file(path, max);
  if (!text) return std::nullopt;
  return std::move(*text);
}

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
bool parse_number(std::string_view s, T& out, int base = 10) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<int32_t> numeric_entries(const std::string& dir) {
  std::vector<int32_t> out;
  struct CloseDir {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> d(::opendir(dir.c_str()));
  if (!d) return out;
  while (dirent* e = ::readdir(d.get())) {
    int32_t n = 0;
    if (parse_number(std::string_view(e->d_name), n) && n > 0) out.push_back(n);
  }
  return out;
}

}  // namespace

std::string ProcFs::path(int32_t pid, std::string_view leaf) const {
  std::string p = root_;
  p += '/';
  p += std::to_string(pid);
  if (!leaf.empty()) {
    p += '/';
    p += leaf;
  }
  return p;
}

bool ProcFs::exists(int32_t pid) const { return ::access(path(pid, "").c_str(), F_OK) == 0; }

std::optional<std::string> ProcFs::comm(int32_t pid) const {
  auto text = read_proc_file(path(pid, "comm"), 4096);
  if (!text) return std::nullopt;
  return std::string(trim_newline(*text));
}

std::optional<std::string> ProcFs::thread_comm(int32_t pid, int32_t tid) const {
  auto text = read_proc_file(path(pid, "task/" + std::to_string(tid) + "/comm"), 4096);
  if (!text) return std::nullopt;
  return std::string(trim_newline(*text));
}

std::optional<std::string> ProcFs::exe(int32_t pid) const {
  char buf[4096];
  ssize_t n = ::readlink(path(pid, "exe").c_str(), buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return std::nullopt;
  std::string_view s(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (s.ends_with(kDeleted)) s.remove_suffix(kDeleted.size());
  return std::string(s);
}

std::optional<std::vector<MapsEntry>> ProcFs::maps(int32_t pid) const {
  return common::read_maps(root_, pid);
}

std::optional<std::vector<int32_t>> ProcFs::threads(int32_t pid) const {
  std::string dir = path(pid, "task");
  if (::access(dir.c_str(), F_OK) != 0) return std::nullopt;
  return numeric_entries(dir);
}

namespace {
// The path of the /proc/PID/cgroup line that starts with `prefix` ("0::"), or contains it after
// the hierarchy number (":name=systemd:").
std::optional<std::string_view> cgroup_line(std::string_view text, std::string_view prefix) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (prefix.front() == ':') {
      size_t at = line.find(prefix);
      if (at != std::string_view::npos && line.find(':') == at) return line.substr(at + prefix.size());
    } else if (line.starts_with(prefix)) {
      return line.substr(prefix.size());
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> ProcFs::cgroup(int32_t pid) const {
  auto text = read_proc_file(path(pid, "cgroup"), 1u << 20);
  if (!text) return std::nullopt;
  // cgroup v2: "0::/system.slice/nginx.service"; v1 lists one line per hierarchy: keep the text
  // of the unified line when there is one, else the whole file.
  if (auto unified = cgroup_line(*text, "0::")) return std::string(*unified);
  return std::string(trim_newline(*text));
}

std::optional<std::string> ProcFs::systemd_cgroup(int32_t pid) const {
  auto text = read_proc_file(path(pid, "cgroup"), 1u << 20);
  if (!text) return std::nullopt;
  // systemd keeps its tree in the name=systemd hierarchy on cgroup v1 and hybrid hosts (where
  // the unified line may say "/"), in the unified one on pure cgroup v2.
  for (std::string_view prefix : {std::string_view(":name=systemd:"), std::string_view("0::")}) {
    if (auto line = cgroup_line(*text, prefix)) return std::string(*line);
  }
  return std::string();
}

std::string systemd_service(std::string_view cgroup) {
  constexpr std::string_view kSuffix = ".service";
  std::string_view best;
  while (!cgroup.empty()) {
    size_t slash = cgroup.find('/');
    std::string_view part = cgroup.substr(0, slash);
    cgroup.remove_prefix(slash == std::string_view::npos ? cgroup.size() : slash + 1);
    if (part.size() > kSuffix.size() && part.ends_with(kSuffix)) best = part.substr(0, part.size() - kSuffix.size());
  }
  return std::string(best);
}

std::optional<int32_t> ProcFs::tgid(int32_t tid) const {
  auto text = read_proc_file(path(tid, "status"), 1u << 20);
  if (!text) return std::nullopt;
  size_t at = text->find("\nTgid:");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*text).substr(at + 6);
  rest.remove_prefix(std::min(rest.find_first_not_of(" \t"), rest.size()));
  rest = rest.substr(0, rest.find('\n'));
  int32_t v = 0;
  if (!parse_number(rest, v)) return std::nullopt;
  return v;
}

std::vector<int32_t> ProcFs::all_pids() const { return numeric_entries(root_); }

namespace {
constexpr size_t kMaxCpus = 1 << 16;
}  // namespace

Result<std::vector<int>> parse_cpu_list(std::string_view text) {
  text = trim_newline(text);
  std::vector<int> cpus;
  auto bad = [&] {
    return make_error(ErrorCode::kMalformed,
                      "cannot parse CPU list '" + std::string(text) + "'");
  };
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    size_t dash = part.find('-');
    int lo = 0;
    int hi = 0;
    if (dash == std::string_view::npos) {
      if (!parse_number(part, lo)) return bad();
      hi = lo;
    } else if (!parse_number(part.substr(0, dash), lo) || !parse_number(part.substr(dash + 1), hi)) {
      return bad();
    }
    // Linux allows at most 8192 CPUs (CONFIG_NR_CPUS); a list of more, or of ranges repeated
    // into millions of entries, is not a CPU list.
    if (lo < 0 || hi < lo || static_cast<size_t>(hi) >= kMaxCpus || cpus.size() + static_cast<size_t>(hi - lo + 1) > kMaxCpus) return bad();
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  if (cpus.empty()) return bad();
  return cpus;
}

Result<std::vector<int>> online_cpus() {
  const std::string path = "/sys/devices/system/cpu/online";
  auto text = common::read_file(path, 1u << 16);
  if (!text) return std::unexpected(text.error());
  auto cpus = parse_cpu_list(*text);
  if (!cpus) return std::unexpected(cpus.error().with_context(path));
  return cpus;
}

std::optional<int64_t> read_sysctl_int(const std::string& path) {
  auto text = read_proc_file(path, 4096);
  if (!text) return std::nullopt;
  int64_t v = 0;
  if (!parse_number(trim_newline(*text), v)) return std::nullopt;
  return v;
}

}  // namespace ember::collector
