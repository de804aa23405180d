#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metering/ledger/ledger.hpp"

/// The `memory` ledger backend, for tests: no files, nothing survives the process.
///
/// Writers insert straight into one mutex-guarded map, which is fine for tests and wrong
/// for production (workers would contend on the lock). Each record goes through the
/// spool's JSON line format on its way in, so what comes back is exactly what the SQLite
/// backend would return (times in whole microseconds, the same NaN handling).
/// Thread-safety: as `Ledger`.
namespace spendwall::metering::ledger {

class MemoryLedger final : public Ledger {
 public:
  MemoryLedger();

  void start() override {}
  void stop() override {}
  std::unique_ptr<LedgerWriter> writer_for_worker(unsigned worker) override;
  bool flush() override { return true; }
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
  bool writable() const noexcept override { return true; }

  /// The records, shared with the writers (which may outlive the ledger).
  struct Store {
    std::mutex mutex;
    std::map<std::string, RequestRecord, std::less<>> records;
    std::vector<std::string> arrival;  ///< record ids in insertion order; sequence = index + 1
  };

 private:
  std::shared_ptr<Store> store_;
  std::mutex exceptions_mutex_;
  std::vector<StoredException> exceptions_;  ///< in storage order
  std::vector<Delivery> deliveries_;         ///< in storage order
};

}  // namespace spendwall::metering::ledger
