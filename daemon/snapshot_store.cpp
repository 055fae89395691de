#include "daemon/snapshot_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "common/files.h"
#include "daemon/logfmt.h"
#include "daemon/snapshot_summary.h"
#include "proto/gzip.h"
#include "proto/pprof.h"

namespace ember::daemon {

namespace {

constexpr std::string_view kSuffix = ".pb.gz";
constexpr std::string_view kQuarantine = "quarantine";
constexpr std::string_view kSummaries = "summaries";
constexpr std::string_view kSummarySuffix = ".sum.gz";
constexpr std::string_view kLockFile = ".emberd.lock";
// Quarantined files are kept for a person to look at, not forever.
constexpr size_t kMaxQuarantined = 64;

std::string compact_ms(UnixNanos t) {
  std::time_t seconds = static_cast<std::time_t>(t / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (t % 1'000'000'000) / 1'000'000);
}

bool digits(std::string_view s, size_t n, int& out) {
  if (s.size() < n) return false;
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// "20250102T150405.123Z" (20 characters).
bool parse_compact_ms(std::string_view s, UnixNanos& out) {
  int y, mo, d, h, mi, se, ms;
  if (s.size() != 20 || !digits(s, 4, y) || !digits(s.substr(4), 2, mo) || !digits(s.substr(6), 2, d) ||
      s[8] != 'T' || !digits(s.substr(9), 2, h) || !digits(s.substr(11), 2, mi) ||
      !digits(s.substr(13), 2, se) || s[15] != '.' || !digits(s.substr(16), 3, ms) || s[19] != 'Z') {
    return false;
  }
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo), std::chrono::day(d)};
  if (!ymd.ok() || y < 1970 || h > 23 || mi > 59 || se > 59) return false;
  int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  out = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000 + ms) * 1'000'000;
  return true;
}

// A temporary file of common::write_file_atomic: ".NAME.tmp-XXXXXX".
bool is_leftover(std::string_view name) {
  return name.starts_with(".") && name.find(".tmp-") != std::string_view::npos;
}

bool disk_full(int err) { return err == ENOSPC || err == EDQUOT; }

}  // namespace

std::string SnapshotStore::file_name(UnixNanos start, UnixNanos end, int collision) {
  std::string name = compact_ms(start) + "_" + compact_ms(end);
  if (collision > 0) name += fmt::format("-{}", collision);
  return name + std::string(kSuffix);
}

bool SnapshotStore::parse_file_name(std::string_view name, UnixNanos& start, UnixNanos& end) {
  if (!name.ends_with(kSuffix)) return false;
  name.remove_suffix(kSuffix.size());
  if (name.size() < 41 || name[20] != '_') return false;
  if (!parse_compact_ms(name.substr(0, 20), start) || !parse_compact_ms(name.substr(21, 20), end)) return false;
  std::string_view rest = name.substr(41);
  if (!rest.empty()) {
    // "-N" after a collision of start times.
    if (rest.front() != '-' || rest.size() < 2 || rest.size() > 6) return false;
    for (char c : rest.substr(1)) {
      if (c < '0' || c > '9') return false;
    }
  }
  return end >= start;
}

SnapshotStore::SnapshotStore(std::string directory, const StoreLimits& limits, common::UniqueFd lock)
    : directory_(std::move(directory)), lock_(std::move(lock)), limits_(limits) {}

SnapshotStore::~SnapshotStore() = default;

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::open(const std::string& directory,
                                                           const StoreLimits& limits) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return make_error(ErrorCode::kIo, fmt::format("{}: cannot create the data directory: {}", directory, ec.message()));
  struct stat st{};
  if (::stat(directory.c_str(), &st) != 0) return errno_error(directory);
  if (!S_ISDIR(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, directory + ": not a directory");
  std::string lock_path = directory + "/" + std::string(kLockFile);
  common::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return errno_error(lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return make_error(ErrorCode::kInvalidArgument,
                        directory + ": another emberd is using this data directory");
    }
    return errno_error(lock_path);
  }
  std::unique_ptr<SnapshotStore> store(new SnapshotStore(directory, limits, std::move(lock)));
  store->scan();
  return store;
}

void SnapshotStore::scan() {
  DIR* dir = ::opendir(directory_.c_str());
  if (!dir) {
    spdlog::error("msg=\"cannot list the data directory\" dir={} error={}", lf(directory_), lf(std::strerror(errno)));
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name == kLockFile || name == kQuarantine || name == kSummaries) continue;
    names.emplace_back(name);
  }
  ::closedir(dir);

  size_t leftovers = 0, unknown = 0, vouched = 0;
  for (const std::string& name : names) {
    std::string path = directory_ + "/" + name;
    if (is_leftover(name)) {
      if (::unlink(path.c_str()) == 0) ++leftovers;
      continue;
    }
    UnixNanos start = 0, end = 0;
    if (!parse_file_name(name, start, end)) {
      ++unknown;
      continue;
    }
    // A snapshot whose summary was made from this very file (its size) was read whole when the
    // summary was made, and files are never written again: not decompressed again here (a week
    // of them took seconds). Damage that came later is found by the query that reads it, which
    // quarantines the file then.
    if (auto size = vouched_size(path, name)) {
      entries_.push_back(SnapshotInfo{name, start, end, *size, 0, nullptr, nullptr});
      ++vouched;
      continue;
    }
    // Checked whole (gzip CRC, then the start of the message), so that a torn or foreign file
    // never reaches a query.
    auto bytes = common::read_file(path, limits_.max_snapshot_bytes);
    std::string problem;
    if (!bytes) {
      problem = bytes.error().message();
    } else if (!proto::is_gzip(*bytes)) {
      problem = "not gzip data";
    } else if (auto raw = proto::gzip_decompress(*bytes, limits_.max_snapshot_bytes); !raw) {
      problem = raw.error().message();
    } else if (!raw->empty() && !proto::looks_like_pprof(*raw)) {
      problem = "not a pprof profile";
    }
    if (!problem.empty()) {
      quarantine(name, problem);
      continue;
    }
    entries_.push_back(SnapshotInfo{name, start, end, bytes->size(), 0, nullptr, nullptr});
  }
  std::sort(entries_.begin(), entries_.end(),
            [](const SnapshotInfo& a, const SnapshotInfo& b) { return std::tie(a.start, a.name) < std::tie(b.start, b.name); });
  stats_.leftovers_removed += leftovers;
  scan_summaries();
  update_totals();
  spdlog::info("msg=\"snapshot store opened\" dir={} snapshots={} checked={} bytes={} leftovers_removed={} quarantined={}{}",
               lf(directory_), stats_.snapshots, stats_.snapshots - vouched, stats_.bytes, leftovers, stats_.quarantined,
               unknown ? fmt::format(" other_files={}", unknown) : "");
}

std::optional<uint64_t> SnapshotStore::vouched_size(const std::string& path, std::string_view name) const {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return std::nullopt;
  auto summary = common::open_regular_file(summary_path(name));
  if (!summary) return std::nullopt;
  char first[kSummaryPrefixBytes];
  const ssize_t n = ::pread(summary->get(), first, sizeof first, 0);
  if (n <= 0) return std::nullopt;
  const auto made_from = summary_made_from(std::string_view(first, static_cast<size_t>(n)));
  if (!made_from || *made_from != static_cast<uint64_t>(st.st_size)) return std::nullopt;
  return *made_from;
}

std::string SnapshotStore::summary_path(std::string_view snapshot_name) const {
  snapshot_name.remove_suffix(kSuffix.size());
  return fmt::format("{}/{}/{}{}", directory_, kSummaries, snapshot_name, kSummarySuffix);
}

// Summaries are checked when read (a damaged one is rebuilt then); here only their sizes are
// taken, leftovers of interrupted writes removed, and those of snapshots no longer there deleted.
void SnapshotStore::scan_summaries() {
  const std::string dir = directory_ + "/" + std::string(kSummaries);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::unordered_map<std::string, SnapshotInfo*> by_name;
  for (SnapshotInfo& e : entries_) by_name.emplace(e.name, &e);
  size_t orphans = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = file.path().filename().string();
    auto it = name.ends_with(kSummarySuffix)
                  ? by_name.find(name.substr(0, name.size() - kSummarySuffix.size()) + std::string(kSuffix))
                  : by_name.end();
    std::error_code ec2;
    if (it == by_name.end()) {
      if (!is_leftover(name)) ++orphans;
      std::filesystem::remove(file.path(), ec2);
      continue;
    }
    it->second->summary_bytes = file.file_size(ec2);
  }
  if (orphans) spdlog::info("msg=\"summaries without their snapshot deleted\" count={}", orphans);
}

void SnapshotStore::update_totals() {
  stats_.snapshots = 0;
  stats_.bytes = 0;
  stats_.summary_bytes = 0;
  stats_.pending = 0;
  stats_.pending_bytes = 0;
  stats_.oldest = entries_.empty() ? 0 : entries_.front().start;
  for (const SnapshotInfo& e : entries_) {
    if (e.pending) {
      stats_.pending++;
      stats_.pending_bytes += e.bytes;
    } else {
      stats_.snapshots++;
      stats_.bytes += e.bytes + e.summary_bytes;
      stats_.summary_bytes += e.summary_bytes;
    }
  }
}

void SnapshotStore::set_limits(const StoreLimits& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
}

StoreLimits SnapshotStore::limits() const {
  std::lock_guard lock(mutex_);
  return limits_;
}

std::string SnapshotStore::add(UnixNanos start, UnixNanos end, std::shared_ptr<const std::string> data,
                               std::shared_ptr<const std::string> summary) {
  std::lock_guard lock(mutex_);
  std::string name;
  for (int collision = 0;; ++collision) {
    name = file_name(start, end, collision);
    bool taken = std::any_of(entries_.begin(), entries_.end(), [&](const SnapshotInfo& e) { return e.name == name; });
    struct stat st{};
    if (!taken && ::stat((directory_ + "/" + name).c_str(), &st) != 0) break;
  }
  SnapshotInfo info{name, start, end, data->size(), 0, data, std::move(summary)};
  auto at = std::upper_bound(entries_.begin(), entries_.end(), info,
                             [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.start < b.start; });
  entries_.insert(at, std::move(info));
  update_totals();
  // The newest window is always kept; older pending ones go first when memory runs out.
  while (stats_.pending > 1 && stats_.pending_bytes > limits_.max_pending_bytes) {
    auto oldest = std::find_if(entries_.begin(), entries_.end(), [](const SnapshotInfo& e) { return e.pending != nullptr; });
    spdlog::error("msg=\"snapshot dropped: it could not be written and the memory for pending snapshots is full\" "
                  "name={} bytes={} max_pending_bytes={}",
                  lf(oldest->name), oldest->bytes, limits_.max_pending_bytes);
    stats_.pending_dropped++;
    entries_.erase(oldest);
    update_totals();
  }
  return name;
}

Result<void> SnapshotStore::write_pending() {
  for (;;) {
    SnapshotInfo next;
    {
      std::lock_guard lock(mutex_);
      auto it = std::find_if(entries_.begin(), entries_.end(), [](const SnapshotInfo& e) { return e.pending != nullptr; });
      if (it == entries_.end()) {
        if (stats_.degraded) spdlog::info("msg=\"snapshots are written again\" dir={}", lf(directory_));
        stats_.degraded = false;
        stats_.last_error.clear();
        return {};
      }
      next = *it;
    }
    std::string path = directory_ + "/" + next.name;
    auto written = common::write_file_atomic(path, *next.pending);
    // After the snapshot: a crash between the two leaves a snapshot whose summary is rebuilt
    // when a query needs it, never a summary without its snapshot.
    uint64_t summary_bytes = 0;
    if (written && next.pending_summary) {
      const std::string summary = summary_path(next.name);
      if (auto ok = common::write_file_atomic(summary, *next.pending_summary); ok) {
        summary_bytes = next.pending_summary->size();
      } else {
        spdlog::warn("msg=\"cannot write snapshot summary; it is rebuilt when needed\" file={} error={}", lf(summary),
                     lf(ok.error().message()));
      }
    }
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const SnapshotInfo& e) { return e.name == next.name; });
    if (!written) {
      stats_.write_failures++;
      const Error& e = written.error();
      bool was_degraded = stats_.degraded;
      stats_.degraded = true;
      stats_.last_error = disk_full(e.sys_errno()) ? "disk full: " + e.message() : e.message();
      // One line when trouble starts, not one per retry.
      if (!was_degraded) {
        spdlog::error("msg=\"cannot write snapshot; keeping it in memory and retrying\" file={} error={} pending={}",
                      lf(path), lf(e.message()), stats_.pending);
      }
      return std::unexpected(e);
    }
    stats_.writes++;
    stats_.last_write_time = unix_now_ns();
    stats_.last_write_name = next.name;
    if (it != entries_.end()) {
      it->pending.reset();
      it->pending_summary.reset();
      it->summary_bytes = summary_bytes;
    }
    update_totals();
  }
}

void SnapshotStore::remove_file(const SnapshotInfo& info, std::string_view why) {
  std::string path = directory_ + "/" + info.name;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("msg=\"cannot delete snapshot\" file={} error={}", lf(path), lf(std::strerror(errno)));
    return;
  }
  ::unlink(summary_path(info.name).c_str());
  spdlog::debug("msg=\"snapshot deleted\" file={} reason={}", lf(path), lf(why));
  stats_.deleted++;
}

size_t SnapshotStore::apply_retention(UnixNanos now) {
  std::lock_guard lock(mutex_);
  const UnixNanos cutoff = now - std::chrono::duration_cast<std::chrono::nanoseconds>(limits_.max_age).count();
  size_t deleted = 0;
  // By age: windows that ended before the cutoff, pending ones too (they are no longer wanted).
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->end < cutoff) {
      if (!it->pending) remove_file(*it, "max_age");
      it = entries_.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  update_totals();
  // By size: oldest files first. The newest file stays even when it alone is larger than
  // max_bytes: a store that deletes what it has just written would serve nothing.
  while (stats_.bytes > limits_.max_bytes && stats_.snapshots > 1) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [](const SnapshotInfo& e) { return !e.pending; });
    if (it == entries_.end()) break;
    remove_file(*it, "max_bytes");
    entries_.erase(it);
    ++deleted;
    update_totals();
  }
  if (deleted) spdlog::info("msg=\"retention deleted snapshots\" count={} snapshots={} bytes={}", deleted,
                            stats_.snapshots, stats_.bytes);
  return deleted;
}

std::vector<SnapshotInfo> SnapshotStore::list(UnixNanos from, UnixNanos to) const {
  std::lock_guard lock(mutex_);
  std::vector<SnapshotInfo> out;
  for (const SnapshotInfo& e : entries_) {
    if (e.end >= from && e.start <= to) out.push_back(e);
  }
  return out;
}

Result<std::shared_ptr<const std::string>> SnapshotStore::read(const SnapshotInfo& info) const {
  if (info.pending) return info.pending;
  uint64_t max;
  {
    std::lock_guard lock(mutex_);
    max = limits_.max_snapshot_bytes;
    // It may have been written since the caller listed it; the file is the same bytes.
  }
  auto bytes = common::read_file(directory_ + "/" + info.name, max);
  if (!bytes) return std::unexpected(bytes.error());
  return std::make_shared<const std::string>(std::move(*bytes));
}

Result<std::shared_ptr<const std::string>> SnapshotStore::read_summary(const SnapshotInfo& info) const {
  if (info.pending_summary) return info.pending_summary;
  if (info.pending) return make_error(ErrorCode::kNotFound, info.name + ": no summary");
  auto bytes = common::read_file(summary_path(info.name), limits().max_snapshot_bytes);
  if (!bytes) return std::unexpected(bytes.error());
  return std::make_shared<const std::string>(std::move(*bytes));
}

void SnapshotStore::prefetch_summaries(const std::vector<const SnapshotInfo*>& infos) const {
  // Below this the files are read about as fast one after another.
  constexpr size_t kWorthIt = 64;
  constexpr size_t kThreads = 4;
  if (infos.size() < kWorthIt) return;
  auto advise = [&](size_t first) {
    for (size_t i = first; i < infos.size(); i += kThreads) {
      const SnapshotInfo& info = *infos[i];
      if (info.pending || info.pending_summary) continue;
      int fd = ::open(summary_path(info.name).c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
      if (fd < 0) fd = ::open(summary_path(info.name).c_str(), O_RDONLY | O_CLOEXEC);  // O_NOATIME: owner only
      if (fd < 0) continue;
      (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
      ::close(fd);
    }
  };
  std::vector<std::jthread> threads;
  for (size_t t = 1; t < kThreads; ++t) threads.emplace_back(advise, t);
  advise(0);
}

Result<void> SnapshotStore::write_summary(const SnapshotInfo& info, std::string_view bytes) {
  if (info.pending) return {};  // written with its snapshot
  auto written = common::write_file_atomic(summary_path(info.name), bytes);
  if (!written) return written;
  std::lock_guard lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const SnapshotInfo& e) { return e.name == info.name; });
  if (it == entries_.end()) {
    // Deleted by retention meanwhile: its summary goes too.
    ::unlink(summary_path(info.name).c_str());
    return {};
  }
  it->summary_bytes = bytes.size();
  update_totals();
  return {};
}

void SnapshotStore::quarantine(const std::string& name, std::string_view reason) {
  std::string qdir = directory_ + "/" + std::string(kQuarantine);
  ::mkdir(qdir.c_str(), 0750);
  std::string target = qdir + "/" + name;
  for (int i = 1; ::access(target.c_str(), F_OK) == 0 && i < 1000; ++i) target = fmt::format("{}/{}.{}", qdir, name, i);
  std::string path = directory_ + "/" + name;
  if (::rename(path.c_str(), target.c_str()) != 0) {
    if (errno == ENOENT) return;  // deleted meanwhile (retention)
    spdlog::error("msg=\"cannot move unreadable snapshot aside\" file={} error={}", lf(path), lf(std::strerror(errno)));
    return;
  }
  ::unlink(summary_path(name).c_str());
  spdlog::warn("msg=\"unreadable snapshot moved to quarantine\" file={} to={} reason={}", lf(path), lf(target), lf(reason));
  {
    std::lock_guard lock(mutex_);
    stats_.quarantined++;
    std::erase_if(entries_, [&](const SnapshotInfo& e) { return e.name == name && !e.pending; });
    update_totals();
  }
  trim_quarantine();
}

void SnapshotStore::trim_quarantine() {
  std::string qdir = directory_ + "/" + std::string(kQuarantine);
  std::error_code ec;
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> files;
  for (const auto& e : std::filesystem::directory_iterator(qdir, ec)) {
    std::error_code ec2;
    if (e.is_regular_file(ec2)) files.emplace_back(e.last_write_time(ec2), e.path());
  }
  if (files.size() <= kMaxQuarantined) return;
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + kMaxQuarantined < files.size(); ++i) std::filesystem::remove(files[i].second, ec);
}

StoreStats SnapshotStore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace ember::daemon
