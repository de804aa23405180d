#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metering/ledger/append_log.hpp"
#include "metering/ledger/ledger.hpp"
#include "metering/ledger/record_json.hpp"
#include "metering/ledger/sqlite_handle.hpp"

/// The embedded SQLite ledger (the default backend).
///
/// Workers append to the spool (`<path>.spool/`, see append_log.hpp) and never touch the
/// database. An ingest thread tails every segment from its stored offset and inserts its
/// complete lines, together with the segments' new offsets, in one transaction, so that
/// each record is ingested exactly once across crashes (`INSERT OR IGNORE` by id makes a
/// replay harmless anyway). The database is in WAL mode with `synchronous=NORMAL`: a
/// commit survives the death of the process, and every `sync_interval` a checkpoint and
/// an fsync of the log make it survive the machine's. A segment is deleted once it is
/// fully ingested, no longer written, and that ingestion has been synced.
///
/// Thread-safety: as `Ledger`. Every database access holds one mutex.
namespace spendwall::metering::ledger {

class SqliteLedger final : public Ledger {
 public:
  struct Settings {
    std::string path;  ///< the database file; the spool folder is `<path>.spool`
    std::chrono::milliseconds sync_interval{1000};
    /// Records that started longer ago are deleted; zero or less keeps everything.
    std::chrono::milliseconds retention{0};
    LedgerOptions options;
  };

  /// Opens or creates the database, migrates it, and ingests what the spool holds (the
  /// previous run's unfinished work) before returning. nullptr with `error` when the
  /// folder, the database or the spool cannot be used, or another process holds them.
  static std::unique_ptr<SqliteLedger> open(Settings settings, std::string& error);

  ~SqliteLedger() override;

  void start() override;
  void stop() override;
  std::unique_ptr<LedgerWriter> writer_for_worker(unsigned worker) override;
  bool flush() override;
  std::optional<RequestRecord> find(std::string_view id) override;
  Totals totals() override;
  Totals totals_since(std::string_view workflow,
                      std::chrono::system_clock::time_point since) override;
  OutcomeResult set_outcome(std::string_view id, std::string_view workflow, const Outcome& outcome,
                            bool replace) override;
  std::vector<SpendRow> spend_after(std::int64_t after_sequence,
                                    std::chrono::system_clock::time_point since,
                                    std::size_t limit) override;
  std::vector<SessionSpendRow> session_records(
      std::chrono::system_clock::time_point active_since) override;
  StoreResult store_exception(const StoredException& event,
                              const std::vector<std::string>& sinks) override;
  std::vector<std::string> exception_keys() override;
  std::vector<StoredException> exceptions_since(
      std::chrono::system_clock::time_point since) override;
  std::vector<PendingDelivery> pending_deliveries() override;
  bool update_delivery(const Delivery& delivery) override;
  bool writable() const noexcept override { return writable_.load(std::memory_order_relaxed); }

 private:
  /// The ingest side's view of one segment file.
  struct SegmentCursor {
    std::uint64_t sequence = 0;
    int fd = -1;                  ///< kept open: reads go on even if the name disappears
    std::uint64_t offset = 0;     ///< bytes already in the database, whole lines
    std::uint64_t size = 0;       ///< as last seen
    bool finished = false;        ///< no writer will add to it
    bool fully_ingested = false;  ///< finished and every byte ingested
  };
  enum class BatchResult {
    caught_up,  ///< everything the spool held when the batch began is in
    more,       ///< the batch was full; more is waiting
    failed,     ///< the store refused it; it stays in the spool
  };

  explicit SqliteLedger(Settings settings);
  bool open_store(std::string& error);
  bool recover_spool(std::string& error);

  // Everything below requires mutex_.
  BatchResult ingest_batch();
  bool drain();
  bool sync();
  void prune_expired();
  bool keep_spool_folder();
  void discover_segments();
  bool ingest_segment(const std::string& name, SegmentCursor& cursor, std::uint64_t& budget,
                      bool& in_transaction, std::uint64_t& new_offset);
  bool insert_line(std::string_view line, const std::string& segment, std::uint64_t offset);
  bool store_offset(const std::string& segment, std::uint64_t offset);
  std::uint64_t stored_offset(const std::string& segment);
  void forget_offsets(const std::vector<std::string>& segments);
  std::optional<RequestRecord> select_record(std::string_view id);
  bool begin_transaction();
  void rollback();
  void report(const std::string& message);
  void note_failure(std::string message);
  void note_success();

  void ingest_loop();

  const Settings settings_;
  const std::filesystem::path spool_folder_;
  std::unique_ptr<SpoolLock> lock_;  ///< taken at open, then handed to spool_
  std::shared_ptr<Spool> spool_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread ingest_thread_;

  SqliteDatabase db_;
  SqliteStatement insert_record_;
  SqliteStatement select_record_;
  SqliteStatement select_offset_;
  SqliteStatement upsert_offset_;
  SqliteStatement delete_offset_;
  SqliteStatement select_ownership_;
  SqliteStatement update_outcome_;
  SqliteStatement select_totals_;
  SqliteStatement select_workflow_totals_;
  SqliteStatement delete_expired_;
  SqliteStatement select_spend_;
  SqliteStatement select_session_records_;
  SqliteStatement insert_exception_;
  SqliteStatement insert_delivery_;
  SqliteStatement select_exception_keys_;
  SqliteStatement select_exceptions_;
  SqliteStatement select_pending_;
  SqliteStatement update_delivery_;

  std::map<std::string, SegmentCursor> cursors_;  ///< by file name
  RecordJsonReader reader_;
  RequestRecord scratch_record_;
  std::vector<AttemptRecord> scratch_attempts_;
  std::string read_buffer_;
  std::string json_buffer_;
  bool unsynced_ = false;  ///< commits since the last sync
  std::chrono::steady_clock::time_point last_sync_{};
  std::chrono::steady_clock::time_point next_prune_{};
  bool failing_ = false;  ///< the store is failing: log the recovery, not every retry
  std::string last_failure_;
  std::atomic<bool> writable_{true};
};

}  // namespace spendwall::metering::ledger
