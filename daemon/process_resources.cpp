#include "daemon/process_resources.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "common/files.h"

namespace ember::daemon {

namespace {

// /proc files of one process are small; a larger one is not what it claims to be.
constexpr size_t kMaxProcFileBytes = 64 << 10;

// Every number these files hold is a count or an id: a sign is not one of them.
template <class T>
bool to_number(std::string_view s, T& out) {
  if (s.starts_with('-')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// The value of "Key:   123 kB" lines: the first word after the colon, as a number.
template <class Fn>
bool for_each_key(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    value.remove_prefix(std::min(value.find_first_not_of(" \t"), value.size()));
    value = value.substr(0, value.find_first_of(" \t"));
    if (!fn(key, value)) return false;
  }
  return true;
}

int64_t clamp_to_counter(int64_t now, int64_t before) { return now >= before ? now - before : 0; }

profile::ResourceCounters difference(const profile::ResourceCounters& now, const profile::ResourceCounters& before) {
  return {clamp_to_counter(now.cpu_user_ns, before.cpu_user_ns),
          clamp_to_counter(now.cpu_system_ns, before.cpu_system_ns),
          clamp_to_counter(now.io_read_bytes, before.io_read_bytes),
          clamp_to_counter(now.io_write_bytes, before.io_write_bytes),
          clamp_to_counter(now.voluntary_ctx_switches, before.voluntary_ctx_switches),
          clamp_to_counter(now.involuntary_ctx_switches, before.involuntary_ctx_switches)};
}

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
  auto bad = [](std::string_view why) { return make_error(ErrorCode::kMalformed, fmt::format("/proc stat line: {}", why)); };
  // The name is whatever the program chose: "(a) b)" is a name, so it ends at the LAST ')'.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return bad("no process name in parentheses");
  }
  ProcStat s;
  std::string_view pid = text.substr(0, open);
  while (!pid.empty() && pid.back() == ' ') pid.remove_suffix(1);
  if (!to_number(pid, s.pid)) return bad(fmt::format("pid '{}' is not a number", pid));
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields from 3 (state) on, separated by single spaces.
  std::vector<std::string_view> f;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    rest.remove_prefix(std::min(rest.find_first_not_of(" \n"), rest.size()));
    if (rest.empty()) break;
    size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    f.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](size_t number) { return f[number - 3]; };
  if (f.size() < 24 - 2) return bad(fmt::format("{} fields after the name, fewer than 22", f.size()));
  if (field(3).size() != 1) return bad(fmt::format("state '{}' is not one letter", field(3)));
  s.state = field(3)[0];
  if (!to_number(field(14), s.utime_ticks) || !to_number(field(15), s.stime_ticks) ||
      !to_number(field(20), s.threads) || !to_number(field(22), s.start_ticks) ||
      !to_number(field(23), s.vsize_bytes) || !to_number(field(24), s.rss_pages)) {
    return bad("a number field (utime, stime, num_threads, starttime, vsize or rss) is not a number");
  }
  return s;
}

Result<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus s;
  bool threads = false, voluntary = false, involuntary = false;
  std::string bad_key;
  for_each_key(text, [&](std::string_view key, std::string_view value) {
    int64_t* out = nullptr;
    if (key == "VmRSS") out = &s.rss_bytes;
    if (key == "Threads") out = &s.threads, threads = true;
    if (key == "voluntary_ctxt_switches") out = &s.voluntary_ctx_switches, voluntary = true;
    if (key == "nonvoluntary_ctxt_switches") out = &s.involuntary_ctx_switches, involuntary = true;
    if (out && !to_number(value, *out)) {
      bad_key = key;
      return false;
    }
    return true;
  });
  if (!bad_key.empty()) return make_error(ErrorCode::kMalformed, fmt::format("/proc status: {} is not a number", bad_key));
  if (!threads || !voluntary || !involuntary) {
    return make_error(ErrorCode::kMalformed, "/proc status: no Threads, voluntary_ctxt_switches or nonvoluntary_ctxt_switches line");
  }
  if (s.rss_bytes > INT64_MAX / 1024) return make_error(ErrorCode::kMalformed, "/proc status: VmRSS is out of range");
  s.rss_bytes *= 1024;  // "VmRSS:  1234 kB"
  return s;
}

Result<ProcIo> parse_proc_io(std::string_view text) {
  ProcIo io;
  bool read = false, write = false, bad = false;
  for_each_key(text, [&](std::string_view key, std::string_view value) {
    if (key == "read_bytes") read = true, bad = !to_number(value, io.read_bytes);
    if (key == "write_bytes") write = true, bad = !to_number(value, io.write_bytes);
    return !bad;
  });
  if (bad || !read || !write) return make_error(ErrorCode::kMalformed, "/proc io: no read_bytes and write_bytes numbers");
  return io;
}

std::vector<int32_t> busiest_processes(const profile::RawProfile& window, size_t max) {
  std::map<int32_t, uint64_t> samples;
  window.for_each_stack([&](const profile::SampleOrigin& o, std::span<const profile::RawFrame>,
                            const profile::RawStackCounts& c) {
    if (o.pid > 0) samples[o.pid] += c.samples;  // pid 0: the idle task, no /proc entry
  });
  std::vector<std::pair<uint64_t, int32_t>> ranked;
  for (const auto& [pid, n] : samples) ranked.emplace_back(n, pid);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<int32_t> out;
  for (size_t i = 0; i < ranked.size() && i < max; ++i) out.push_back(ranked[i].second);
  return out;
}

ResourceReadStats& ResourceReadStats::operator+=(const ResourceReadStats& o) {
  read += o.read;
  exited += o.exited;
  io_unreadable += o.io_unreadable;
  over_bound += o.over_bound;
  return *this;
}

ResourceReader::Clocks ResourceReader::Clocks::now() {
  return {clock_ns(CLOCK_REALTIME), clock_ns(CLOCK_BOOTTIME)};
}

ResourceReader::ResourceReader(std::string proc_root)
    : root_(std::move(proc_root)), tick_ns_(1'000'000'000 / std::max<long>(::sysconf(_SC_CLK_TCK), 1)) {}

std::vector<profile::ProcessResources> ResourceReader::read(std::span<const int32_t> pids, UnixNanos window_start,
                                                            const Clocks& clocks, ResourceReadStats& stats) {
  ++round_;
  // The window's start on the clock of process start times.
  const int64_t window_start_boot = clocks.boot_ns - (clocks.unix_ns - window_start);
  std::vector<profile::ProcessResources> out;
  out.reserve(pids.size());
  for (int32_t pid : pids) {
    const std::string dir = fmt::format("{}/{}/", root_, pid);
    // stat and status both, or the process is taken as gone: it exited meanwhile.
    auto stat_text = common::read_file(dir + "stat", kMaxProcFileBytes);
    auto status_text = stat_text ? common::read_file(dir + "status", kMaxProcFileBytes) : stat_text;
    Result<ProcStat> stat = stat_text ? parse_proc_stat(*stat_text) : std::unexpected(stat_text.error());
    Result<ProcStatus> status = status_text ? parse_proc_status(*status_text) : std::unexpected(status_text.error());
    if (!stat || !status) {
      stats.exited++;
      continue;
    }
    profile::ProcessResources r;
    r.pid = pid;
    r.time_ns = clocks.unix_ns;
    r.rss_bytes = status->rss_bytes;
    r.threads = status->threads;
    r.total.cpu_user_ns = static_cast<int64_t>(stat->utime_ticks) * tick_ns_;
    r.total.cpu_system_ns = static_cast<int64_t>(stat->stime_ticks) * tick_ns_;
    r.total.voluntary_ctx_switches = status->voluntary_ctx_switches;
    r.total.involuntary_ctx_switches = status->involuntary_ctx_switches;
    auto io_text = common::read_file(dir + "io", kMaxProcFileBytes);
    auto io = io_text ? parse_proc_io(*io_text) : std::unexpected(io_text.error());
    if (io) {
      r.has_io = true;
      r.total.io_read_bytes = io->read_bytes;
      r.total.io_write_bytes = io->write_bytes;
    } else {
      stats.io_unreadable++;
    }
    auto last = last_.find(pid);
    if (last != last_.end() && last->second.start_ticks == stat->start_ticks) {
      // The same process (not a reused pid): what it used since the last reading.
      r.has_interval = true;
      r.interval = difference(r.total, last->second.total);
      if (!last->second.has_io) r.interval.io_read_bytes = r.interval.io_write_bytes = 0;
    } else if (static_cast<int64_t>(stat->start_ticks) * tick_ns_ >= window_start_boot) {
      // Started during the window: everything it used, it used in the window.
      r.has_interval = true;
      r.interval = r.total;
    }
    last_[pid] = Last{stat->start_ticks, r.total, r.has_io, round_};
    stats.read++;
    out.push_back(r);
  }
  if (last_.size() > kMaxRemembered) {
    // Forget the readings of the rounds longest ago (exited processes, mostly).
    std::vector<uint64_t> rounds;
    rounds.reserve(last_.size());
    for (const auto& [pid, l] : last_) rounds.push_back(l.round);
    auto cut = rounds.begin() + static_cast<std::ptrdiff_t>(rounds.size() - kMaxRemembered);
    std::nth_element(rounds.begin(), cut, rounds.end());
    const uint64_t oldest_kept = *cut;
    std::erase_if(last_, [&](const auto& e) { return e.second.round < oldest_kept; });
  }
  return out;
}

}  // namespace ember::daemon
