#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metering/report/report.hpp"

/// Value formatting shared by the report renderers.
/// Thread-safety: pure functions.
namespace spendwall::metering::report::format {

/// `37.3%` (`<0.1%` when positive but smaller), or `+37.3%` with `signed_change`; `absent`
/// when there is no value.
std::string percent(std::optional<double> ratio, bool signed_change, std::string_view absent);

/// The shortest decimal that reads back as the same double (`0.373`, `1`); "" when absent.
std::string decimal(std::optional<double> value);

/// Exact USD, or `absent`.
std::string usd(std::optional<config::NanoUsd> value, std::string_view absent);

/// USD for a chart label: cents from one dollar up, four significant digits below
/// (`$1234.57`, `$0.05875`), so a small amount never reads as zero.
std::string rounded_usd(config::NanoUsd value);

/// Thousands separated by commas: `1,234,567`.
std::string count(std::uint64_t value);

/// Input kinds (uncached, cached, cache writes) and output kinds (visible, reasoning).
std::uint64_t input_tokens(const TokenUsage& tokens);
std::uint64_t output_tokens(const TokenUsage& tokens);

/// `Workflow`, `Owner`, `Provider`, `Model`, `Route`.
std::string_view key_title(GroupBy by);

/// Whether rows are workflows or owners, and so have owners, budgets and exceptions.
bool has_people(GroupBy by);

/// The row's budget use of `window`, if it has one.
const BudgetUse* find_budget(const ReportRow& row, BudgetWindow window);
std::optional<double> utilization(const ReportRow& row, BudgetWindow window);

/// The HTML page splits the main table in two views so that each fits a screen; the
/// terminal table shows every column.
enum View : unsigned { kSpendView = 1, kQualityView = 2, kBothViews = 3 };

struct TableColumn {
  std::string title;    ///< `Workflow`, `Owner`, `Requests`, ...
  bool text = false;    ///< names, aligned left; the rest are figures
  bool change = false;  ///< a signed change, which HTML colours
  unsigned views = kBothViews;
};

/// The report's main table as text cells, shared by the terminal and HTML renderings.
struct TableLayout {
  std::vector<TableColumn> columns;
  std::vector<std::vector<std::string>> rows;  ///< one cell per column
  std::vector<std::string> totals;             ///< `Total` first
};

/// Figures as people read them (`1,200`, `41.2`, `+37.3%`); `absent` marks no value.
TableLayout table_layout(const Report& report, std::string_view absent);

/// `2026-12-02T09:14:03Z` (sub-second part dropped).
std::string timestamp(std::chrono::sys_time<std::chrono::microseconds> at);

}  // namespace spendwall::metering::report::format
