#include "metering/ledger/memory_ledger.hpp"

#include <utility>

#include "metering/json_writer.hpp"
#include "metering/ledger/record_json.hpp"

namespace spendwall::metering::ledger {
namespace {

class MemoryWriter final : public LedgerWriter {
 public:
  MemoryWriter(std::shared_ptr<MemoryLedger::Store> store,
               std::shared_ptr<LedgerCounters> all_counters, unsigned worker)
      : store_(std::move(store)),
        all_counters_(std::move(all_counters)),
        counters_(all_counters_->shard(worker)) {}

  bool append(const RequestRecord& record) override {
    line_.clear();
    JsonWriter json(line_);
    write_record(record, json);
    RequestRecord stored;
    if (!reader_.read_record(line_, stored)) {
      // Cannot happen for a record write_record() rendered; counted like a lost write.
      counters_.write_error();
      return false;
    }
    {
      const std::lock_guard lock(store_->mutex);
      // Like the SQLite backend: the first record with an id wins.
      store_->records.try_emplace(stored.id, std::move(stored));
    }
    counters_.record_written();
    return true;
  }

  std::string_view last_error() const noexcept override {
    return "the record did not survive its JSON round trip";
  }

 private:
  std::shared_ptr<MemoryLedger::Store> store_;
  std::shared_ptr<LedgerCounters> all_counters_;  ///< keeps counters_ alive
  LedgerCounters::Shard& counters_;
  RecordJsonReader reader_;
  std::string line_;
};

}  // namespace

MemoryLedger::MemoryLedger() : store_(std::make_shared<Store>()) {}

std::unique_ptr<LedgerWriter> MemoryLedger::writer_for_worker(unsigned worker) {
  return std::make_unique<MemoryWriter>(store_, counters_, worker);
}

std::optional<RequestRecord> MemoryLedger::find(std::string_view id) {
  const std::lock_guard lock(store_->mutex);
  const auto it = store_->records.find(id);
  if (it == store_->records.end()) return std::nullopt;
  return it->second;
}

Totals MemoryLedger::totals() {
  const std::lock_guard lock(store_->mutex);
  Totals totals;
  for (const auto& [id, record] : store_->records) {
    ++totals.records;
    totals.cost += record.cost;
  }
  return totals;
}

Totals MemoryLedger::totals_since(std::string_view workflow, std::chrono::system_clock::time_point since) {
  const std::lock_guard lock(store_->mutex);
  Totals totals;
  for (const auto& [id, record] : store_->records) {
    if (record.workflow != workflow || record.started_at < since) continue;
    ++totals.records;
    totals.cost += record.cost;
  }
  return totals;
}

OutcomeResult MemoryLedger::set_outcome(std::string_view id, std::string_view workflow,
                                        const Outcome& outcome, bool replace) {
  const std::lock_guard lock(store_->mutex);
  const auto it = store_->records.find(id);
  if (it == store_->records.end()) return OutcomeResult::not_found;
  if (it->second.workflow != workflow) return OutcomeResult::not_yours;
  if (it->second.outcome && !replace) return OutcomeResult::exists;
  // Stored as the SQLite backend stores it: the time in whole microseconds.
  Outcome stored = outcome;
  stored.at = from_unix_micros(to_unix_micros(outcome.at));
  it->second.outcome = std::move(stored);
  return OutcomeResult::ok;
}

}  // namespace spendwall::metering::ledger
