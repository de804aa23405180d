#include "metering/report/report.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <utility>

#include "config/units.hpp"
#include "metering/report/ledger_reader.hpp"

namespace spendwall::metering::report {
namespace {

constexpr std::array<std::string_view, 5> kGroupByNames{"workflow", "owner", "provider", "model",
                                                        "route"};
constexpr std::array<std::string_view, 4> kFormatNames{"table", "csv", "json", "html"};
constexpr std::array<BudgetWindow, 2> kBudgetWindows{BudgetWindow::daily, BudgetWindow::monthly};

/// Owner of a workflow the ledger knows and the config does not (renamed or removed).
constexpr std::string_view kUnknownOwner = "(unknown)";

template <class Enum, std::size_t N>
std::optional<Enum> parse_name(const std::array<std::string_view, N>& names,
                               std::string_view text) noexcept {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

std::optional<double> share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

GroupColumn column_of(GroupBy by) {
  switch (by) {
    case GroupBy::workflow:
    case GroupBy::owner:
      return GroupColumn::workflow;
    case GroupBy::provider:
      return GroupColumn::provider;
    case GroupBy::model:
      return GroupColumn::model;
    case GroupBy::route:
      return GroupColumn::route;
  }
  return GroupColumn::workflow;
}

bool is_utc(std::string_view timezone) { return timezone == "UTC" || timezone == "Etc/UTC"; }

std::string owner_of(const config::ConfigSnapshot& config, std::string_view workflow) {
  const config::WorkflowPolicy* policy = config.find_workflow(workflow);
  return policy != nullptr ? policy->owner : std::string(kUnknownOwner);
}

/// The limit of `window` at `at`: an active override's replaces the configured one.
std::optional<config::NanoUsd> effective_limit(const config::WorkflowPolicy& policy,
                                               BudgetWindow window, Seconds at) {
  const auto pick = [window](const auto& limits) {
    return window == BudgetWindow::daily ? limits.daily : limits.monthly;
  };
  for (const config::OverrideSpec& override_spec : policy.overrides) {
    if (override_spec.from <= at && at < override_spec.until && pick(override_spec)) {
      return pick(override_spec);
    }
  }
  return pick(*policy.budget);
}

/// Everything build_report needs besides the rows themselves.
class ReportBuilder {
 public:
  ReportBuilder(const config::ConfigSnapshot& config, const ReportOptions& options,
                LedgerReader& reader)
      : config_(config), options_(options), reader_(reader) {}

  bool build(Report& report, std::string& error);

 private:
  bool read_rows(Report& report, std::string& error);
  bool read_budgets(Report& report, std::string& error);
  /// Spend against each configured window of `policy` at the end of the period.
  bool budget_uses(const config::WorkflowPolicy& policy, std::vector<BudgetUse>& uses,
                   std::string& error);
  void attach_exceptions(Report& report);
  bool read_charts(Report& report, std::string& error);
  void add_notes(Report& report);

  const config::ConfigSnapshot& config_;
  const ReportOptions& options_;
  LedgerReader& reader_;
};

bool ReportBuilder::build(Report& report, std::string& error) {
  report.period = options_.period;
  report.previous = previous_period(options_.period);
  report.by = options_.by;
  if (!read_rows(report, error) || !read_budgets(report, error)) return false;
  attach_exceptions(report);
  if (!read_charts(report, error)) return false;

  for (const ReportRow& row : report.rows) report.totals.add(row.traffic);
  report.outcome_names = config_.alerts.outcomes;
  for (const auto& [outcome, count] : report.totals.outcomes) {
    if (std::find(report.outcome_names.begin(), report.outcome_names.end(), outcome) ==
        report.outcome_names.end()) {
      report.outcome_names.push_back(outcome);
    }
  }
  add_notes(report);
  return true;
}

bool ReportBuilder::read_rows(Report& report, std::string& error) {
  const GroupColumn column = column_of(options_.by);
  TrafficByKey current;
  TrafficByKey previous;
  if (!reader_.read_traffic(column, report.period, current, error) ||
      !reader_.read_traffic(column, report.previous, previous, error)) {
    return false;
  }
  // A group that spent last period and nothing now is news too: it keeps its row.
  for (const auto& [key, traffic] : previous) current[key].previous_spend = traffic.spend;

  if (options_.by == GroupBy::owner) {
    TrafficByKey by_owner;
    for (const auto& [workflow, traffic] : current) {
      by_owner[owner_of(config_, workflow)].add(traffic);
    }
    current = std::move(by_owner);
  }

  for (auto& [key, traffic] : current) {
    ReportRow row;
    row.key = key;
    row.traffic = std::move(traffic);
    if (options_.by == GroupBy::workflow) {
      if (const config::WorkflowPolicy* policy = config_.find_workflow(key)) {
        row.owner = policy->owner;
        row.review = policy->review;
      }
    } else if (options_.by == GroupBy::owner) {
      row.owner = key;
      std::set<std::string> cadences;
      for (const config::WorkflowPolicy& policy : config_.workflows) {
        if (policy.owner == key && !policy.review.empty()) cadences.insert(policy.review);
      }
      if (!cadences.empty()) {
        std::string joined;
        for (const std::string& cadence : cadences) {
          joined += joined.empty() ? "" : ", ";
          joined += cadence;
        }
        row.review = std::move(joined);
      }
    }
    report.rows.push_back(std::move(row));
  }
  std::sort(report.rows.begin(), report.rows.end(), [](const ReportRow& a, const ReportRow& b) {
    if (a.traffic.spend != b.traffic.spend) return a.traffic.spend > b.traffic.spend;
    return a.key < b.key;
  });
  return true;
}

bool ReportBuilder::budget_uses(const config::WorkflowPolicy& policy, std::vector<BudgetUse>& uses,
                                std::string& error) {
  if (!policy.budget) return true;
  // The last instant of the period: `--until` midnight reports the day that just ended.
  const Seconds at = options_.period.until - std::chrono::seconds(1);
  for (BudgetWindow window : kBudgetWindows) {
    const std::optional<config::NanoUsd> limit = effective_limit(policy, window, at);
    if (!limit) continue;
    std::optional<WindowSpan> span;
    if (options_.window_of) span = options_.window_of(window, policy.budget->timezone, at);
    if (!span) span = utc_window(window, at);
    BudgetUse use;
    use.window = window;
    use.limit = *limit;
    if (!reader_.read_workflow_spend(policy.name, span->start, options_.period.until, use.spent,
                                     error)) {
      return false;
    }
    uses.push_back(use);
  }
  return true;
}

bool ReportBuilder::read_budgets(Report& report, std::string& error) {
  if (options_.by != GroupBy::workflow && options_.by != GroupBy::owner) return true;
  for (ReportRow& row : report.rows) {
    for (const config::WorkflowPolicy& policy : config_.workflows) {
      const bool counts =
          options_.by == GroupBy::workflow ? policy.name == row.key : policy.owner == row.key;
      if (!counts) continue;
      std::vector<BudgetUse> uses;
      if (!budget_uses(policy, uses, error)) return false;
      // An owner's utilization is the combined one: Σ spent ÷ Σ limits of the workflows
      // that have that window.
      for (const BudgetUse& use : uses) {
        auto same_window = std::find_if(row.budgets.begin(), row.budgets.end(),
                                        [&](const BudgetUse& b) { return b.window == use.window; });
        if (same_window == row.budgets.end()) {
          row.budgets.push_back(use);
        } else {
          same_window->spent += use.spent;
          same_window->limit += use.limit;
        }
      }
    }
    std::sort(row.budgets.begin(), row.budgets.end(),
              [](const BudgetUse& a, const BudgetUse& b) { return a.window < b.window; });
  }
  return true;
}

void ReportBuilder::attach_exceptions(Report& report) {
  std::vector<ExceptionEntry> all;
  std::string warning;
  reader_.read_exceptions(all, warning);
  if (!warning.empty()) report.notes.push_back(warning);

  const auto since = std::chrono::sys_time<std::chrono::microseconds>(report.period.since);
  const auto until = std::chrono::sys_time<std::chrono::microseconds>(report.period.until);
  for (ExceptionEntry& entry : all) {
    if (entry.at < since || entry.at >= until) continue;
    if (entry.owner.empty()) entry.owner = owner_of(config_, entry.workflow);
    report.exceptions.push_back(std::move(entry));
  }
  std::stable_sort(report.exceptions.begin(), report.exceptions.end(),
                   [](const ExceptionEntry& a, const ExceptionEntry& b) { return a.at < b.at; });

  if (report.by != GroupBy::workflow && report.by != GroupBy::owner) return;
  for (ReportRow& row : report.rows) {
    for (const ExceptionEntry& entry : report.exceptions) {
      const std::string& key = report.by == GroupBy::workflow ? entry.workflow : entry.owner;
      if (key == row.key) row.exceptions.push_back(entry);
    }
  }
}

bool ReportBuilder::read_charts(Report& report, std::string& error) {
  ChartData& charts = report.charts;
  const auto first_day = std::chrono::floor<std::chrono::days>(report.period.since);
  const auto last_day =
      std::chrono::floor<std::chrono::days>(report.period.until - std::chrono::seconds(1));
  for (auto day = first_day; day <= last_day; day += std::chrono::days(1)) {
    charts.days.push_back(day);
  }

  TrafficByKey workflows;
  TrafficByKey providers;
  std::vector<DailySpend> daily;
  if (!reader_.read_traffic(GroupColumn::workflow, report.period, workflows, error) ||
      !reader_.read_traffic(GroupColumn::provider, report.period, providers, error) ||
      !reader_.read_daily_spend(report.period, daily, error)) {
    return false;
  }
  const auto largest_first = [](std::vector<ChartData::Spend>& spends) {
    std::sort(spends.begin(), spends.end(), [](const auto& a, const auto& b) {
      return a.spend != b.spend ? a.spend > b.spend : a.key < b.key;
    });
  };
  for (const auto& [workflow, traffic] : workflows) {
    charts.workflow_spend.push_back({workflow, traffic.spend, traffic.accepted()});
  }
  largest_first(charts.workflow_spend);
  for (const auto& [provider, traffic] : providers) {
    if (traffic.spend > 0) charts.provider_spend.push_back({provider, traffic.spend, 0});
  }
  largest_first(charts.provider_spend);

  const std::int64_t first_day_number = first_day.time_since_epoch().count();
  for (const ChartData::Spend& workflow : charts.workflow_spend) {
    if (workflow.spend <= 0) continue;
    ChartData::Series series{workflow.key, std::vector<config::NanoUsd>(charts.days.size(), 0)};
    for (const DailySpend& entry : daily) {
      const std::int64_t index = entry.day - first_day_number;
      if (entry.workflow == workflow.key && index >= 0 &&
          index < static_cast<std::int64_t>(charts.days.size())) {
        series.daily_spend[static_cast<std::size_t>(index)] += entry.spend;
      }
    }
    charts.workflow_days.push_back(std::move(series));
  }
  return true;
}

void ReportBuilder::add_notes(Report& report) {
  if (report.by != GroupBy::workflow && report.by != GroupBy::owner) return;
  std::string unknown;
  std::string zoned;
  for (const ChartData::Spend& workflow : report.charts.workflow_spend) {
    if (config_.find_workflow(workflow.key) == nullptr) {
      unknown += (unknown.empty() ? "" : ", ") + workflow.key;
    }
  }
  for (const config::WorkflowPolicy& policy : config_.workflows) {
    if (!options_.window_of && policy.budget && !is_utc(policy.budget->timezone)) {
      zoned += (zoned.empty() ? "" : ", ") + policy.name + " (" + policy.budget->timezone + ")";
    }
  }
  if (!unknown.empty()) {
    report.notes.push_back("in the ledger but not in the config (no owner, review or budget): " +
                           unknown);
  }
  if (!zoned.empty()) {
    report.notes.push_back(
        "budget utilization uses UTC calendar windows; configured time zones not applied: " +
        zoned);
  }
}

}  // namespace

std::string_view to_string(GroupBy by) noexcept {
  return kGroupByNames[static_cast<std::size_t>(by)];
}

std::string_view to_string(ReportFormat format) noexcept {
  return kFormatNames[static_cast<std::size_t>(format)];
}

std::string_view to_string(BudgetWindow window) noexcept {
  return window == BudgetWindow::daily ? "daily" : "monthly";
}

std::optional<GroupBy> parse_group_by(std::string_view text) noexcept {
  return parse_name<GroupBy>(kGroupByNames, text);
}

std::optional<ReportFormat> parse_report_format(std::string_view text) noexcept {
  return parse_name<ReportFormat>(kFormatNames, text);
}

Period previous_period(const Period& period) noexcept {
  const auto length = period.until - period.since;
  return {period.since - length, period.since};
}

std::optional<Period> parse_period(std::optional<std::string_view> since,
                                   std::optional<std::string_view> until, Seconds now,
                                   std::string& error) {
  Period period;
  period.until = now;
  if (until) {
    const auto parsed = config::parse_timestamp(*until);
    if (!parsed) {
      error = "--until: expected an RFC 3339 time such as 2026-12-02T00:00:00Z, got '" +
              std::string(*until) + "'";
      return std::nullopt;
    }
    period.until = *parsed;
  }
  const std::string_view since_text = since.value_or("7d");
  if (const auto length = config::parse_duration(since_text)) {
    period.since = period.until - std::chrono::duration_cast<std::chrono::seconds>(*length);
  } else if (const auto at = config::parse_timestamp(since_text)) {
    period.since = *at;
  } else {
    error = "--since: expected a duration such as 7d or an RFC 3339 time, got '" +
            std::string(since_text) + "'";
    return std::nullopt;
  }
  if (period.since >= period.until) {
    error = "--since must be before --until (the period " + format_timestamp(period.since) +
            " to " + format_timestamp(period.until) + " is empty)";
    return std::nullopt;
  }
  return period;
}

std::string format_timestamp(Seconds at) {
  const auto day = std::chrono::floor<std::chrono::days>(at);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{at - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

WindowSpan utc_window(BudgetWindow window, Seconds at) noexcept {
  const auto day = std::chrono::floor<std::chrono::days>(at);
  if (window == BudgetWindow::daily) return {day, day + std::chrono::days(1)};
  const std::chrono::year_month_day date{day};
  const auto month = date.year() / date.month();
  const auto next = month + std::chrono::months(1);
  return {std::chrono::sys_days(month / 1), std::chrono::sys_days(next / 1)};
}

void Traffic::add(const Traffic& other) {
  requests += other.requests;
  tokens.input += other.tokens.input;
  tokens.cached_input += other.tokens.cached_input;
  tokens.cache_write += other.tokens.cache_write;
  tokens.output += other.tokens.output;
  tokens.reasoning += other.tokens.reasoning;
  spend += other.spend;
  previous_spend += other.previous_spend;
  with_fallbacks += other.with_fallbacks;
  estimated += other.estimated;
  for (const auto& [outcome, count] : other.outcomes) outcomes[outcome] += count;
}

std::uint64_t Traffic::outcome_count(std::string_view outcome) const {
  const auto found = outcomes.find(outcome);
  return found == outcomes.end() ? 0 : found->second;
}

std::optional<double> Traffic::change() const {
  if (previous_spend == 0) return std::nullopt;
  return static_cast<double>(spend - previous_spend) / static_cast<double>(previous_spend);
}

std::optional<double> Traffic::fallback_share() const { return share(with_fallbacks, requests); }

std::optional<double> Traffic::estimated_share() const { return share(estimated, requests); }

std::optional<config::NanoUsd> cost_per_accepted(config::NanoUsd spend, std::uint64_t accepted) {
  if (accepted == 0) return std::nullopt;
  const auto divisor = static_cast<config::NanoUsd>(accepted);
  // Round half away from zero, to the nearest nano-USD.
  const config::NanoUsd half = spend < 0 ? -divisor / 2 : divisor / 2;
  return (spend + half) / divisor;
}

std::optional<double> BudgetUse::utilization() const {
  if (limit <= 0) return std::nullopt;
  return static_cast<double>(spent) / static_cast<double>(limit);
}

std::optional<std::string> sqlite_ledger_path(const config::LedgerSpec& ledger,
                                              std::string& error) {
  if (ledger.backend != config::LedgerBackend::sqlite || ledger.path == ":memory:") {
    error = "spendwall report reads the sqlite ledger; this config's ledger is " +
            std::string(config::to_string(ledger.backend)) +
            (ledger.path == ":memory:" ? " in memory" : "");
    return std::nullopt;
  }
  return ledger.path;
}

ReportResult build_report(const config::ConfigSnapshot& config, const std::string& database_path,
                          const ReportOptions& options) {
  ReportResult result;
  LedgerReader reader;
  if (!reader.open(database_path, result.error)) return result;
  Report report;
  ReportBuilder builder(config, options, reader);
  if (!builder.build(report, result.error)) return result;
  result.report = std::move(report);
  return result;
}

}  // namespace spendwall::metering::report
