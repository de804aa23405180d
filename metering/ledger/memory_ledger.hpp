#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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
  Totals totals_since(std::string_view workflow, std::chrono::system_clock::time_point since) override;
  OutcomeResult set_outcome(std::string_view id, std::string_view workflow, const Outcome& outcome,
                            bool replace) override;
  bool writable() const noexcept override { return true; }

  /// The records, shared with the writers (which may outlive the ledger).
  struct Store {
    std::mutex mutex;
    std::map<std::string, RequestRecord, std::less<>> records;
  };

 private:
  std::shared_ptr<Store> store_;
};

}  // namespace spendwall::metering::ledger
