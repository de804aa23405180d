#include "metering/ledger/ledger.hpp"

#include <utility>

#include "metering/ledger/memory_ledger.hpp"
#include "metering/ledger/sqlite_ledger.hpp"

namespace spendwall::metering::ledger {

std::vector<config::FailureClass> failure_classes(const std::vector<AttemptRecord>& attempts) {
  std::vector<config::FailureClass> classes;
  for (const AttemptRecord& attempt : attempts) {
    if (const auto cls = config::failure_class_named(attempt.result)) classes.push_back(*cls);
  }
  return classes;
}

LedgerCounters::Shard& LedgerCounters::shard(unsigned worker) {
  const std::lock_guard lock(mutex_);
  return workers_[worker];
}

std::uint64_t LedgerCounters::records_written() const {
  const std::lock_guard lock(mutex_);
  std::uint64_t sum = control_.records_written.load(std::memory_order_relaxed);
  for (const auto& [worker, shard] : workers_) {
    sum += shard.records_written.load(std::memory_order_relaxed);
  }
  return sum;
}

std::uint64_t LedgerCounters::write_errors() const {
  const std::lock_guard lock(mutex_);
  std::uint64_t sum = control_.write_errors.load(std::memory_order_relaxed);
  for (const auto& [worker, shard] : workers_) {
    sum += shard.write_errors.load(std::memory_order_relaxed);
  }
  return sum;
}

std::unique_ptr<Ledger> open_ledger(const config::LedgerSpec& spec, std::string& error,
                                    LedgerOptions options) {
  switch (spec.backend) {
    case config::LedgerBackend::memory:
      return std::make_unique<MemoryLedger>();
    case config::LedgerBackend::sqlite:
      return SqliteLedger::open({spec.path, spec.sync_interval, spec.retention, std::move(options)},
                                error);
    case config::LedgerBackend::postgres:
      error = "ledger backend postgres is not available in this build";
      return nullptr;
  }
  error = "unknown ledger backend";
  return nullptr;
}

}  // namespace spendwall::metering::ledger
