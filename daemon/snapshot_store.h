#pragma once
// The snapshot store: one gzip'd pprof file per interval in the data directory, named by the
// window it covers ("20250102T150405.123Z_20250102T150505.123Z.pb.gz").
//
// Files are written whole or not at all (temporary file, fsync, rename, fsync of the
// directory), so a crash leaves either the old set or the new one; leftovers of interrupted
// writes are removed at start-up, and files that cannot be read are moved to quarantine/ (at
// start-up, except those a summary made from them vouches for; by the query that reads one).
// A window that cannot be written (disk full) stays in memory, bounded, and is written when
// space returns; files already written are never touched by a failed write.
// Each snapshot may have a summary (snapshot_summary.h) in summaries/, written after it the
// same way and deleted with it; a missing one is rebuilt by the query that needs it.
// Thread-safe: the writer thread adds and writes, queries list and read.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "daemon/units.h"

namespace ember::daemon {

struct StoreLimits {
  Duration max_age = std::chrono::hours(24 * 7);
  uint64_t max_bytes = uint64_t{1} << 30;
  uint64_t max_pending_bytes = uint64_t{16} << 20;
  uint64_t max_snapshot_bytes = uint64_t{32} << 20;  // decompressed
};

struct SnapshotInfo {
  std::string name;
  UnixNanos start = 0;
  UnixNanos end = 0;
  uint64_t bytes = 0;
  uint64_t summary_bytes = 0;  // 0: none on disk
  // Not yet on disk: the encoded file (and its summary, when there is one) is held here.
  std::shared_ptr<const std::string> pending;
  std::shared_ptr<const std::string> pending_summary;
};

struct StoreStats {
  uint64_t snapshots = 0;  // on disk
  uint64_t bytes = 0;      // on disk, summaries included
  uint64_t summary_bytes = 0;  // of which summaries
  uint64_t pending = 0;    // waiting to be written
  uint64_t pending_bytes = 0;
  uint64_t writes = 0;
  uint64_t write_failures = 0;
  uint64_t deleted = 0;       // by retention
  uint64_t quarantined = 0;
  uint64_t pending_dropped = 0;  // windows lost because the disk stayed full too long
  uint64_t leftovers_removed = 0;
  bool degraded = false;      // the last write failed
  std::string last_error;
  UnixNanos last_write_time = 0;
  std::string last_write_name;
  UnixNanos oldest = 0;
};

class SnapshotStore {
 public:
  // Creates the directory when missing, takes its lock (one emberd per directory), removes
  // leftovers of interrupted writes and quarantines unreadable snapshots (each is decompressed
  // and checked, unless its summary was made from exactly that file).
  [[nodiscard]] static Result<std::unique_ptr<SnapshotStore>> open(const std::string& directory,
                                                     const StoreLimits& limits);
  ~SnapshotStore();

  const std::string& directory() const { return directory_; }
  void set_limits(const StoreLimits& limits);
  StoreLimits limits() const;

  // Adds the encoded window [start, end); it is pending until write_pending() writes it.
  // Past max_pending_bytes the oldest pending windows are dropped (and counted).
  // `summary` (encode_summary of it), when given, is written after it.
  std::string add(UnixNanos start, UnixNanos end, std::shared_ptr<const std::string> encoded,
                  std::shared_ptr<const std::string> summary = nullptr);
  // Writes pending windows, oldest first, stopping at the first failure (kept for the next try).
  [[nodiscard]] Result<void> write_pending();
  // Deletes files older than max_age, then the oldest while the store is larger than
  // max_bytes. Returns how many were deleted.
  size_t apply_retention(UnixNanos now);

  // Snapshots whose window overlaps [from, to], oldest first.
  std::vector<SnapshotInfo> list(UnixNanos from, UnixNanos to) const;
  // The encoded file; kNotFound when retention deleted it meanwhile.
  [[nodiscard]] Result<std::shared_ptr<const std::string>> read(const SnapshotInfo& info) const;
  // The summary file of a snapshot; kNotFound when it has none.
  [[nodiscard]] Result<std::shared_ptr<const std::string>> read_summary(const SnapshotInfo& info) const;
  // Asks the kernel to read these snapshots' summary files ahead (POSIX_FADV_WILLNEED, from a
  // few threads so that the disk has many requests at once): a series over thousands of them
  // then reads from the page cache instead of waiting on each small file in turn. Advisory:
  // files that are missing or pending are skipped, nothing fails.
  void prefetch_summaries(const std::vector<const SnapshotInfo*>& infos) const;
  // Writes (or replaces) the summary of a stored snapshot, crash-safe as snapshots are.
  [[nodiscard]] Result<void> write_summary(const SnapshotInfo& info, std::string_view bytes);
  // Moves an unreadable file aside, with a log line.
  void quarantine(const std::string& name, std::string_view reason);

  StoreStats stats() const;

  // File names: parse and format (exposed for tests).
  static std::string file_name(UnixNanos start, UnixNanos end, int collision = 0);
  static bool parse_file_name(std::string_view name, UnixNanos& start, UnixNanos& end);

 private:
  SnapshotStore(std::string directory, const StoreLimits& limits, common::UniqueFd lock);
  void scan();
  void scan_summaries();
  std::string summary_path(std::string_view snapshot_name) const;
  // The size of the snapshot at `path` when its summary was made from exactly that file.
  std::optional<uint64_t> vouched_size(const std::string& path, std::string_view name) const;
  void remove_file(const SnapshotInfo& info, std::string_view why);
  void trim_quarantine();
  void update_totals();

  std::string directory_;
  common::UniqueFd lock_;
  mutable std::mutex mutex_;
  StoreLimits limits_;
  std::vector<SnapshotInfo> entries_;  // sorted by start
  StoreStats stats_;
};

}  // namespace ember::daemon
