#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "metering/request_record.hpp"

/// The request ledger of PRODUCT.md §7: one durable record per authenticated request on a
/// metered endpoint.
///
/// Workers append through their own `LedgerWriter`; everything else (ingestion into the
/// database, queries, outcomes) is control-plane work behind the `Ledger`.
/// Thread-safety: a `Ledger` may be used from any thread; a `LedgerWriter` belongs to the
/// one worker thread it was made for.
namespace spendwall::metering::ledger {

/// Record count and exact spend of everything the ledger holds.
struct Totals {
  std::uint64_t records = 0;
  config::NanoUsd cost = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
};

/// Answer of Ledger::set_outcome(), one per feedback error code of PRODUCT.md §6.
enum class OutcomeResult : std::uint8_t {
  ok,
  not_found,  ///< no record with that id (404 request_not_found)
  not_yours,  ///< the record belongs to another workflow (403 not_your_request)
  exists,     ///< an outcome is already set and `replace` was false (409 outcome_exists)
  failed,     ///< the store could not take it (a 500; logged and counted as a write error)
};

/// `spendwall_ledger_records_total` and `spendwall_ledger_write_errors_total`, sharded per
/// worker so that each worker increments its own cache line; readers sum the shards.
/// Thread-safety: shard() and the sums may be called from any thread; increments use
/// relaxed fetch_add, so a shard shared by two threads still counts exactly.
class LedgerCounters {
 public:
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> records_written{0};  ///< records that reached the OS
    std::atomic<std::uint64_t> write_errors{0};     ///< records lost or delayed by a failure

    void record_written() noexcept { records_written.fetch_add(1, std::memory_order_relaxed); }
    void write_error() noexcept { write_errors.fetch_add(1, std::memory_order_relaxed); }
  };

  /// The shard of `worker`, made on first use and kept (stable address) for the life of
  /// the counters.
  Shard& shard(unsigned worker);
  /// The shard for the ledger's own threads (ingestion, queries).
  Shard& control_shard() noexcept { return control_; }

  std::uint64_t records_written() const;
  std::uint64_t write_errors() const;

 private:
  Shard control_;
  mutable std::mutex mutex_;
  std::map<unsigned, Shard> workers_;  ///< node-based: shard addresses never move
};

/// One settled request's spend and route traffic, as read back in ingestion order for
/// the exception detector.
struct SpendRow {
  std::int64_t sequence = 0;  ///< ingestion order; resume after the last one read
  std::string workflow;
  std::string route;  ///< '' for a request rejected before its route was resolved
  std::string provider;
  std::string model;
  config::NanoUsd cost = 0;
  std::uint32_t fallbacks = 0;
  /// For a request that fell back: the failure class of each attempt that did not answer,
  /// in attempt order (what a fallback surge names as its reasons).
  std::vector<config::FailureClass> failed_attempts;
  std::chrono::system_clock::time_point at{};  ///< when the request finished
};

/// The failure class of each attempt in `attempts` that did not answer, in order.
std::vector<config::FailureClass> failure_classes(const std::vector<AttemptRecord>& attempts);

/// One record of a request that carried a session id.
struct SessionSpendRow {
  std::string workflow;
  std::string session;
  config::NanoUsd cost = 0;
  std::chrono::system_clock::time_point started_at{};
};

/// A budget exception as the ledger keeps it. The ledger does not interpret the event: it
/// stores the admin-api.md JSON and the fields it is queried and deduplicated by.
struct StoredException {
  std::string id;
  std::chrono::system_clock::time_point at{};
  std::string workflow;
  std::string kind;
  std::string window;
  std::string dedupe_key;
  std::string event_json;
};

enum class DeliveryState : std::uint8_t { pending, delivered, failed };

constexpr std::string_view to_string(DeliveryState state) noexcept {
  switch (state) {
    case DeliveryState::pending:
      return "pending";
    case DeliveryState::delivered:
      return "delivered";
    case DeliveryState::failed:
      return "failed";
  }
  return "pending";
}

/// The outbox: one row per (exception, sink) until the sink has it or delivery gave up.
struct Delivery {
  std::string exception_id;
  std::string sink;
  std::uint32_t attempts = 0;
  std::chrono::system_clock::time_point next_attempt_at{};
  DeliveryState state = DeliveryState::pending;
};

/// A pending delivery with the event it carries.
struct PendingDelivery {
  Delivery delivery;
  std::string event_json;
};

/// Answer of Ledger::store_exception().
enum class StoreResult : std::uint8_t { stored, duplicate, failed };

/// Hooks and tuning of a ledger. The defaults suit production.
struct LedgerOptions {
  /// Receives one line per failure (ingest errors, unreadable spool lines, failed syncs),
  /// from the thread that met it, with the ledger's lock held: it must not call back
  /// into the ledger. Append failures are the caller's to log.
  std::function<void(std::string_view message)> on_error;
  /// A spool segment is closed and a new one begun once it holds this many bytes.
  std::uint64_t segment_bytes = std::uint64_t{8} << 20;
  /// How often the ingest thread moves the spool into the database.
  std::chrono::milliseconds ingest_interval{50};
};

/// A worker's handle for appending records.
/// Thread-safety: single-threaded; owned by one worker.
class LedgerWriter {
 public:
  virtual ~LedgerWriter() = default;

  /// Makes `record` durable against the death of the process: when this returns true the
  /// record is in the operating system's hands, so call it before the response's last
  /// byte goes out. False on a write error, already counted in write_errors(); the caller
  /// logs it. Never throws and never waits on the database.
  virtual bool append(const RequestRecord& record) = 0;
  /// Why the last failed append() failed, for the caller's log line.
  virtual std::string_view last_error() const noexcept = 0;
};

/// The ledger: a spool the workers append to, drained into a queryable store.
/// Thread-safety: every member function may be called from any thread. Queries take a
/// mutex and may touch the disk: control plane only, never on the request path.
class Ledger {
 public:
  virtual ~Ledger() = default;
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  /// Starts background ingestion. Before start() (and after stop()) records still reach
  /// the store through flush() and the queries.
  virtual void start() = 0;
  /// Stops background ingestion, then ingests and syncs everything appended so far (the
  /// SIGTERM path: call it after the workers have drained). Destroying a started ledger
  /// without stop() leaves what is not ingested yet in the spool for the next open, as a
  /// crash would.
  virtual void stop() = 0;

  /// A writer for worker thread `worker`. Several writers may be open at once.
  virtual std::unique_ptr<LedgerWriter> writer_for_worker(unsigned worker) = 0;

  /// Synchronously ingests everything appended before the call. False when the store
  /// could not take it (it stays in the spool and is retried).
  virtual bool flush() = 0;
  /// One record; a record appended but not ingested yet is found too.
  virtual std::optional<RequestRecord> find(std::string_view id) = 0;
  /// Count and Σ cost of every record appended before the call.
  virtual Totals totals() = 0;
  /// Count and Σ cost of one workflow's records that started at or after `since`: what
  /// rebuilds a budget window's spend at start.
  virtual Totals totals_since(std::string_view workflow,
                              std::chrono::system_clock::time_point since) = 0;
  /// Records the feedback `outcome` of request `id` on behalf of `workflow`; an existing
  /// outcome is overwritten only when `replace` is set.
  virtual OutcomeResult set_outcome(std::string_view id, std::string_view workflow,
                                    const Outcome& outcome, bool replace) = 0;

  /// Up to `limit` spend rows ingested after `after_sequence` (0: from the first) of
  /// requests that finished at or after `since`, in ingestion order.
  virtual std::vector<SpendRow> spend_after(std::int64_t after_sequence,
                                            std::chrono::system_clock::time_point since,
                                            std::size_t limit) = 0;

  /// Every record of each session that has a record started at or after `active_since`,
  /// ordered by workflow, session and start: what rebuilds session spend at start.
  virtual std::vector<SessionSpendRow> session_records(
      std::chrono::system_clock::time_point active_since) = 0;

  /// Stores `event` and a pending delivery to each of `sinks`, atomically. `duplicate`
  /// when an exception with its dedupe key is already stored: raising is idempotent.
  virtual StoreResult store_exception(const StoredException& event,
                                      const std::vector<std::string>& sinks) = 0;
  /// Every stored dedupe key, to re-arm the detector after a restart.
  virtual std::vector<std::string> exception_keys() = 0;
  /// The exceptions raised at or after `since`, oldest first.
  virtual std::vector<StoredException> exceptions_since(
      std::chrono::system_clock::time_point since) = 0;
  /// The outbox rows still pending, oldest exception first.
  virtual std::vector<PendingDelivery> pending_deliveries() = 0;
  /// Records the outcome of a delivery attempt (attempts, next time, state).
  virtual bool update_delivery(const Delivery& delivery) = 0;

  /// False while the store or the spool folder is failing (for `/readyz`).
  virtual bool writable() const noexcept = 0;

  std::uint64_t records_written() const { return counters_->records_written(); }
  std::uint64_t write_errors() const { return counters_->write_errors(); }

 protected:
  Ledger() = default;
  /// Shared with the writers, which may outlive the ledger.
  std::shared_ptr<LedgerCounters> counters_ = std::make_shared<LedgerCounters>();
};

/// Opens the ledger `spec` describes, ready to serve: for `sqlite` the database is created
/// or migrated and whatever a previous run left in the spool is ingested first. nullptr
/// with a one-line `error` when it cannot be opened (`postgres` is not in this build).
std::unique_ptr<Ledger> open_ledger(const config::LedgerSpec& spec, std::string& error,
                                    LedgerOptions options = {});

}  // namespace spendwall::metering::ledger
