#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "metering/usage.hpp"

/// `spendwall report` (PRODUCT.md §8, JSON shape in admin-api.md): spend, tokens, requests,
/// fallbacks, estimated usage, outcomes, cost per accepted outcome, budget utilization and
/// exceptions per workflow, owner, provider, model or route, against the previous period of
/// the same length.
///
/// The ledger database is opened read-only and read inside one transaction, so a report is
/// one consistent snapshot even while `spendwall serve` keeps writing (WAL readers neither
/// block the writer nor see half a batch).
///
/// Thread-safety: `build_report` and the helpers are reentrant and share no state; a
/// `Report` is a plain value.
namespace spendwall::metering::report {

using Seconds = std::chrono::sys_seconds;

enum class GroupBy : std::uint8_t { workflow, owner, provider, model, route };
enum class ReportFormat : std::uint8_t { table, csv, json, html };
enum class BudgetWindow : std::uint8_t { daily, monthly };

/// The CLI spellings (`--by workflow`, `--format html`, `daily`).
std::string_view to_string(GroupBy by) noexcept;
std::string_view to_string(ReportFormat format) noexcept;
std::string_view to_string(BudgetWindow window) noexcept;
std::optional<GroupBy> parse_group_by(std::string_view text) noexcept;
std::optional<ReportFormat> parse_report_format(std::string_view text) noexcept;

/// The instants [since, until).
struct Period {
  Seconds since{};
  Seconds until{};
  friend bool operator==(const Period&, const Period&) = default;
};

/// The period of the same length that ends where `period` begins.
Period previous_period(const Period& period) noexcept;

/// Reads `--since` (a duration before `until` such as `7d`, or an RFC 3339 instant) and
/// `--until` (an RFC 3339 instant); absent, they default to `7d` and `now`. nullopt with a
/// one-line `error` when either does not parse or the period is empty.
std::optional<Period> parse_period(std::optional<std::string_view> since,
                                   std::optional<std::string_view> until, Seconds now,
                                   std::string& error);

/// `2026-12-02T10:00:00Z`.
std::string format_timestamp(Seconds at);

/// A budget window as UTC instants [start, end).
struct WindowSpan {
  Seconds start{};
  Seconds end{};
  friend bool operator==(const WindowSpan&, const WindowSpan&) = default;
};

/// The calendar window of a kind, in a time zone, that holds an instant; nullopt when the
/// zone is unknown. The policies module has the tz-aware one; metering cannot depend on it,
/// so the caller that can (the CLI) passes it in.
using WindowResolver = std::function<std::optional<WindowSpan>(
    BudgetWindow window, std::string_view timezone, Seconds at)>;

/// The UTC calendar day or month that holds `at`.
WindowSpan utc_window(BudgetWindow window, Seconds at) noexcept;

struct ReportOptions {
  Period period;
  GroupBy by = GroupBy::workflow;
  /// Empty: budget windows are UTC calendar days and months, and the report notes every
  /// budgeted workflow whose configured time zone that ignores.
  WindowResolver window_of;
};

/// Spend ÷ accepted outcomes, to the nearest nano-USD; nullopt when none was accepted.
std::optional<config::NanoUsd> cost_per_accepted(config::NanoUsd spend, std::uint64_t accepted);

/// What one group did over a period.
struct Traffic {
  std::uint64_t requests = 0;
  TokenUsage tokens;
  config::NanoUsd spend = 0;
  config::NanoUsd previous_spend = 0;  ///< over the previous period
  std::uint64_t with_fallbacks = 0;    ///< requests that moved to another target
  std::uint64_t estimated = 0;         ///< requests whose usage was estimated
  std::map<std::string, std::uint64_t, std::less<>> outcomes;  ///< by outcome name

  void add(const Traffic& other);
  std::uint64_t outcome_count(std::string_view outcome) const;
  std::uint64_t accepted() const { return outcome_count("accepted"); }
  /// (spend − previous) ÷ previous; nullopt when there was no previous spend.
  std::optional<double> change() const;
  /// Shares of requests; nullopt when there were none.
  std::optional<double> fallback_share() const;
  std::optional<double> estimated_share() const;
  std::optional<config::NanoUsd> cost_per_accepted() const {
    return report::cost_per_accepted(spend, accepted());
  }
};

/// Spend against one budget window at the end of the period (an active override's limit
/// replaces the normal one).
struct BudgetUse {
  BudgetWindow window = BudgetWindow::daily;
  config::NanoUsd spent = 0;  ///< from the window's start to the end of the period
  config::NanoUsd limit = 0;
  std::optional<double> utilization() const;
};

/// One budget exception recorded in the ledger.
struct ExceptionEntry {
  std::string id;
  std::string kind;
  std::string workflow;
  std::string owner;
  std::chrono::sys_time<std::chrono::microseconds> at{};
  std::string next_action;
};

struct ReportRow {
  std::string key;
  std::optional<std::string> owner;   ///< `--by workflow`; the key itself `--by owner`
  std::optional<std::string> review;  ///< cadence(s) of the workflow(s)
  Traffic traffic;
  std::vector<BudgetUse> budgets;  ///< `--by workflow|owner`, configured windows only
  std::vector<ExceptionEntry> exceptions;
};

/// Data for the HTML charts, whatever the grouping.
struct ChartData {
  /// Every UTC calendar day the period touches, oldest first.
  std::vector<std::chrono::sys_days> days;
  struct Series {
    std::string workflow;
    std::vector<config::NanoUsd> daily_spend;  ///< one per entry of `days`
  };
  /// Workflows with spend, largest first.
  std::vector<Series> workflow_days;
  struct Spend {
    std::string key;
    config::NanoUsd spend = 0;
    std::uint64_t accepted = 0;
  };
  std::vector<Spend> provider_spend;  ///< providers with spend, largest first
  std::vector<Spend> workflow_spend;  ///< every workflow with requests, largest spend first
};

struct Report {
  Period period;
  Period previous;
  GroupBy by = GroupBy::workflow;
  /// The configured outcome names, then any other name the ledger holds.
  std::vector<std::string> outcome_names;
  /// Largest spend first, then by key.
  std::vector<ReportRow> rows;
  Traffic totals;
  std::vector<ExceptionEntry> exceptions;  ///< every one raised in the period, oldest first
  std::vector<std::string> notes;          ///< caveats a reader must see
  ChartData charts;
};

struct ReportResult {
  std::optional<Report> report;
  std::string error;  ///< one line, set when `report` is empty
};

/// The database file of an `sqlite` ledger; nullopt with `error` for other backends.
std::optional<std::string> sqlite_ledger_path(const config::LedgerSpec& ledger, std::string& error);

/// Reads the ledger at `database_path` read-only and builds the report. Owners, review
/// cadences, budgets and outcome names come from `config`. Fails with one line when the
/// database does not exist yet or is not a Spendwall ledger.
ReportResult build_report(const config::ConfigSnapshot& config, const std::string& database_path,
                          const ReportOptions& options);

}  // namespace spendwall::metering::report
