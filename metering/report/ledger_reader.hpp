#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "metering/report/report.hpp"

struct sqlite3;

/// The report's read-only view of the ledger database: aggregate queries over the
/// `requests` table (schema in metering/ledger/sqlite_schema.cpp) and whatever an
/// `exceptions` table holds.
/// Thread-safety: none; one report uses one reader.
namespace spendwall::metering::report {

/// The ledger column a report groups by (`--by owner` groups by workflow first).
enum class GroupColumn : std::uint8_t { workflow, provider, model, route };

/// The key a report shows for a request that never got that far (a rejected request has
/// no provider or model).
inline constexpr std::string_view kNoneKey = "(none)";

/// Traffic per group key.
using TrafficByKey = std::map<std::string, Traffic, std::less<>>;

/// Spend of one workflow on one UTC day (days since the Unix epoch).
struct DailySpend {
  std::string workflow;
  std::int64_t day = 0;
  config::NanoUsd spend = 0;
};

class LedgerReader {
 public:
  LedgerReader() = default;
  ~LedgerReader();
  LedgerReader(const LedgerReader&) = delete;
  LedgerReader& operator=(const LedgerReader&) = delete;

  /// Opens the database read-only and starts the read transaction every query shares.
  /// False with one line in `error` when the file does not exist, cannot be read or holds
  /// no ledger.
  bool open(const std::string& path, std::string& error);

  /// Requests, tokens, spend, fallbacks, estimated usage and outcomes per key over
  /// `period` (by start time). `previous_spend` is left at zero.
  bool read_traffic(GroupColumn column, const Period& period, TrafficByKey& out,
                    std::string& error);
  /// Spend of `workflow` over [from, until).
  bool read_workflow_spend(std::string_view workflow, Seconds from, Seconds until,
                           config::NanoUsd& out, std::string& error);
  bool read_daily_spend(const Period& period, std::vector<DailySpend>& out, std::string& error);
  /// Every row of the `exceptions` table, if there is one; its columns are read by name
  /// (`id`, `kind`, `workflow`, `owner`, `next_action`, and `at_us` or `at`), falling back
  /// to the fields of a JSON event column. Entries whose time cannot be read are skipped.
  /// A table that cannot be read at all leaves `out` empty and says why in `warning`.
  void read_exceptions(std::vector<ExceptionEntry>& out, std::string& warning);

 private:
  bool run(std::string_view sql, std::string& error);

  sqlite3* db_ = nullptr;
  bool in_transaction_ = false;
};

}  // namespace spendwall::metering::report
