#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metering/ledger/ledger.hpp"

/// The spool: the folder of append-only segment files (`w<worker>-<sequence>.jsonl`, one
/// JSON record per line) that workers write and the ingest thread drains into the
/// database. A record is durable against the death of the process as soon as its line
/// is written, whatever the database is doing.
/// Thread-safety: a `Spool` may be used from any thread; an `AppendLog` by its worker only.
namespace spendwall::metering::ledger {

/// The parts of a segment's file name. Sequences are unique across workers and runs.
struct SegmentName {
  unsigned worker = 0;
  std::uint64_t sequence = 0;
  friend bool operator==(const SegmentName&, const SegmentName&) = default;
};

std::string segment_file_name(SegmentName name);
/// nullopt for any file that is not a segment (the lock file, temporary files).
std::optional<SegmentName> parse_segment_file_name(std::string_view file_name) noexcept;

/// An exclusive lock on the spool folder (flock on its `lock` file): one process per
/// ledger. The `Spool` holds it, so that it stays taken while any writer is alive.
class SpoolLock {
 public:
  /// nullptr, with `error`, when the lock file cannot be made or another process holds it.
  static std::unique_ptr<SpoolLock> acquire(const std::filesystem::path& folder,
                                            std::string& error);
  ~SpoolLock();
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

 private:
  explicit SpoolLock(int fd) noexcept : fd_(fd) {}
  int fd_;
};

/// What writers and the ingest side share about the spool folder.
///
/// The ingest side deletes a segment once it is fully ingested and no longer being
/// written. A writer therefore registers a segment before creating its file and
/// unregisters it after its last write: a file that is not registered is finished.
class Spool {
 public:
  /// `next_sequence` must exceed every sequence the folder or the database has seen.
  Spool(std::filesystem::path folder, std::unique_ptr<SpoolLock> lock, std::uint64_t next_sequence,
        std::uint64_t segment_bytes, std::shared_ptr<LedgerCounters> counters);

  const std::filesystem::path& folder() const noexcept { return folder_; }
  std::uint64_t segment_bytes() const noexcept { return segment_bytes_; }
  const std::shared_ptr<LedgerCounters>& counters() const noexcept { return counters_; }

  /// A fresh sequence, registered as being written.
  std::uint64_t begin_segment();
  void end_segment(std::uint64_t sequence);
  /// The sequences being written now, sorted.
  std::vector<std::uint64_t> segments_being_written() const;

  /// Changes when the folder had to be made again (someone removed it): writers then
  /// leave their segment, which may no longer have a name, for a new one.
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  void advance_generation() noexcept { generation_.fetch_add(1, std::memory_order_acq_rel); }
  /// After the folder was made again: the old lock file has no name any more.
  void replace_lock(std::unique_ptr<SpoolLock> lock);

 private:
  const std::filesystem::path folder_;
  const std::uint64_t segment_bytes_;
  const std::shared_ptr<LedgerCounters> counters_;
  std::atomic<std::uint64_t> generation_{0};
  mutable std::mutex mutex_;
  std::unique_ptr<SpoolLock> lock_;
  std::uint64_t next_sequence_;
  std::vector<std::uint64_t> being_written_;  ///< sorted
};

/// A worker's writer: each record becomes one line appended with one write(2) on an
/// O_APPEND descriptor (more only if the kernel writes part of it), so it is in the page
/// cache, safe from a `kill -9`, when append() returns. No fsync: syncs are batched on
/// the database side. The segment is created on the first append and replaced once it
/// holds `segment_bytes`.
class AppendLog final : public LedgerWriter {
 public:
  AppendLog(std::shared_ptr<Spool> spool, unsigned worker);
  ~AppendLog() override;
  AppendLog(const AppendLog&) = delete;
  AppendLog& operator=(const AppendLog&) = delete;

  bool append(const RequestRecord& record) override;
  std::string_view last_error() const noexcept override { return last_error_; }

  /// The file being written, empty before the first append (for tests and diagnostics).
  std::filesystem::path segment_path() const;

 private:
  bool open_segment();
  void close_segment();
  bool write_line();
  bool fail(std::string_view what, int error_number);

  const std::shared_ptr<Spool> spool_;
  const unsigned worker_;
  LedgerCounters::Shard& counters_;
  int fd_ = -1;
  std::uint64_t sequence_ = 0;
  std::uint64_t generation_ = 0;
  std::uint64_t segment_size_ = 0;  ///< bytes this writer put in the segment
  std::string line_;                ///< reused: no allocation per record once grown
  std::string last_error_;
};

}  // namespace spendwall::metering::ledger
