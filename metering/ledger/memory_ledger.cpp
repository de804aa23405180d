#include "metering/ledger/memory_ledger.hpp"

#include <algorithm>
#include <set>
#include <string_view>
#include <tuple>
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
      std::string id = stored.id;
      if (store_->records.try_emplace(id, std::move(stored)).second) {
        store_->arrival.push_back(std::move(id));
      }
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

Totals MemoryLedger::totals_since(std::string_view workflow,
                                  std::chrono::system_clock::time_point since) {
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

std::vector<SpendRow> MemoryLedger::spend_after(std::int64_t after_sequence,
                                                std::chrono::system_clock::time_point since,
                                                std::size_t limit) {
  const std::lock_guard lock(store_->mutex);
  std::vector<SpendRow> rows;
  for (std::size_t i = static_cast<std::size_t>(std::max<std::int64_t>(after_sequence, 0));
       i < store_->arrival.size() && rows.size() < limit; ++i) {
    const RequestRecord& record = store_->records.find(store_->arrival[i])->second;
    if (record.finished_at < since) continue;
    rows.push_back({static_cast<std::int64_t>(i + 1), record.workflow, record.route,
                    record.provider, record.model, record.cost, record.fallbacks,
                    record.fallbacks > 0 ? failure_classes(record.attempts)
                                         : std::vector<config::FailureClass>{},
                    record.finished_at});
  }
  return rows;
}

std::vector<SessionSpendRow> MemoryLedger::session_records(
    std::chrono::system_clock::time_point active_since) {
  const std::lock_guard lock(store_->mutex);
  std::set<std::pair<std::string_view, std::string_view>> active;
  for (const auto& [id, record] : store_->records) {
    if (record.session && record.started_at >= active_since) {
      active.emplace(record.workflow, *record.session);
    }
  }
  std::vector<SessionSpendRow> rows;
  for (const auto& [id, record] : store_->records) {
    if (!record.session || !active.contains({record.workflow, *record.session})) continue;
    rows.push_back({record.workflow, *record.session, record.cost, record.started_at});
  }
  std::sort(rows.begin(), rows.end(), [](const SessionSpendRow& a, const SessionSpendRow& b) {
    return std::tie(a.workflow, a.session, a.started_at) <
           std::tie(b.workflow, b.session, b.started_at);
  });
  return rows;
}

StoreResult MemoryLedger::store_exception(const StoredException& event,
                                          const std::vector<std::string>& sinks) {
  const std::lock_guard lock(exceptions_mutex_);
  for (const StoredException& stored : exceptions_) {
    if (stored.dedupe_key == event.dedupe_key) return StoreResult::duplicate;
  }
  // Stored as the SQLite backend stores it: the time in whole microseconds.
  StoredException& stored = exceptions_.emplace_back(event);
  stored.at = from_unix_micros(to_unix_micros(event.at));
  for (const std::string& sink : sinks) {
    deliveries_.push_back({event.id, sink, 0, stored.at, DeliveryState::pending});
  }
  return StoreResult::stored;
}

std::vector<std::string> MemoryLedger::exception_keys() {
  const std::lock_guard lock(exceptions_mutex_);
  std::vector<std::string> keys;
  for (const StoredException& stored : exceptions_) keys.push_back(stored.dedupe_key);
  return keys;
}

std::vector<StoredException> MemoryLedger::exceptions_since(
    std::chrono::system_clock::time_point since) {
  const std::lock_guard lock(exceptions_mutex_);
  std::vector<StoredException> events;
  for (const StoredException& stored : exceptions_) {
    if (stored.at >= since) events.push_back(stored);
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const StoredException& a, const StoredException& b) { return a.at < b.at; });
  return events;
}

std::vector<PendingDelivery> MemoryLedger::pending_deliveries() {
  const std::lock_guard lock(exceptions_mutex_);
  std::vector<PendingDelivery> pending;
  for (const Delivery& delivery : deliveries_) {
    if (delivery.state != DeliveryState::pending) continue;
    auto event = std::find_if(
        exceptions_.begin(), exceptions_.end(),
        [&](const StoredException& stored) { return stored.id == delivery.exception_id; });
    pending.push_back({delivery, event == exceptions_.end() ? std::string() : event->event_json});
  }
  return pending;
}

bool MemoryLedger::update_delivery(const Delivery& delivery) {
  const std::lock_guard lock(exceptions_mutex_);
  for (Delivery& stored : deliveries_) {
    if (stored.exception_id != delivery.exception_id || stored.sink != delivery.sink) continue;
    stored = delivery;
    stored.next_attempt_at = from_unix_micros(to_unix_micros(delivery.next_attempt_at));
    return true;
  }
  return false;
}

}  // namespace spendwall::metering::ledger
