#include "metering/report/render_format.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "config/units.hpp"

namespace spendwall::metering::report::format {
namespace {

/// `value` rounded half away from zero to a multiple of `step`.
config::NanoUsd round_to(config::NanoUsd value, config::NanoUsd step) {
  const config::NanoUsd half = step / 2;
  const config::NanoUsd rounded = value < 0 ? -((-value + half) / step) : (value + half) / step;
  return rounded * step;
}

std::vector<std::string> figures(const Report& report, const std::string& key,
                                 const std::optional<std::string>& owner,
                                 const std::optional<std::string>& review, const Traffic& traffic,
                                 const ReportRow* row, std::string_view absent) {
  const bool people = has_people(report.by);
  std::vector<std::string> cells{key};
  if (report.by == GroupBy::workflow) cells.push_back(owner.value_or(std::string(absent)));
  if (people) cells.push_back(review.value_or(std::string(absent)));
  cells.push_back(count(traffic.requests));
  cells.push_back(count(input_tokens(traffic.tokens)));
  cells.push_back(count(output_tokens(traffic.tokens)));
  cells.push_back(usd(traffic.spend, absent));
  cells.push_back(usd(traffic.previous_spend, absent));
  cells.push_back(percent(traffic.change(), true, absent));
  cells.push_back(percent(traffic.fallback_share(), false, absent));
  cells.push_back(percent(traffic.estimated_share(), false, absent));
  for (const std::string& outcome : report.outcome_names) {
    cells.push_back(count(traffic.outcome_count(outcome)));
  }
  cells.push_back(usd(traffic.cost_per_accepted(), absent));
  if (people) {
    // Budgets are per workflow: the totals line leaves them blank.
    for (BudgetWindow window : {BudgetWindow::daily, BudgetWindow::monthly}) {
      cells.push_back(row == nullptr ? "" : percent(utilization(*row, window), false, absent));
    }
    cells.push_back(count(row == nullptr ? report.exceptions.size() : row->exceptions.size()));
  }
  return cells;
}

}  // namespace

TableLayout table_layout(const Report& report, std::string_view absent) {
  const bool people = has_people(report.by);
  TableLayout layout;
  layout.header.emplace_back(key_title(report.by));
  if (report.by == GroupBy::workflow) layout.header.emplace_back("Owner");
  if (people) layout.header.emplace_back("Review");
  layout.text_columns = layout.header.size();
  for (const char* title : {"Requests", "In tokens", "Out tokens", "Spend USD", "Previous USD",
                            "Change", "Fallbacks", "Estimated"}) {
    layout.header.emplace_back(title);
  }
  for (const std::string& outcome : report.outcome_names) {
    std::string title = outcome;
    if (!title.empty()) title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    layout.header.push_back(std::move(title));
  }
  layout.header.emplace_back("USD/accepted");
  if (people) {
    for (const char* title : {"Daily budget", "Monthly budget", "Exceptions"}) {
      layout.header.emplace_back(title);
    }
  }
  for (const ReportRow& row : report.rows) {
    layout.rows.push_back(
        figures(report, row.key, row.owner, row.review, row.traffic, &row, absent));
  }
  layout.totals = figures(report, "Total", "", "", report.totals, nullptr, absent);
  return layout;
}

std::string percent(std::optional<double> ratio, bool signed_change, std::string_view absent) {
  if (!ratio || !std::isfinite(*ratio)) return std::string(absent);
  char text[32];
  std::snprintf(text, sizeof text, signed_change ? "%+.1f%%" : "%.1f%%", *ratio * 100.0);
  return text;
}

std::string decimal(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return "";
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, *value);
  return ec == std::errc() ? std::string(text, end) : std::string();
}

std::string usd(std::optional<config::NanoUsd> value, std::string_view absent) {
  return value ? config::format_usd(*value) : std::string(absent);
}

std::string rounded_usd(config::NanoUsd value) {
  const config::NanoUsd magnitude = value < 0 ? -value : value;
  config::NanoUsd step = 10'000'000;  // a cent
  if (magnitude < config::kNanoPerUsd) {
    // Four significant digits: the step is 10^(digits − 4) nano-USD.
    step = 1;
    for (config::NanoUsd limit = 10'000; limit <= magnitude; limit *= 10) step *= 10;
  }
  const config::NanoUsd rounded = round_to(value, step);
  std::string text = config::format_usd(rounded < 0 ? -rounded : rounded);
  if (magnitude >= config::kNanoPerUsd) {
    // Whole cents, always two digits: `$12.50`, `$3.00`.
    const auto dot = text.find('.');
    if (dot == std::string::npos) {
      text += ".00";
    } else if (text.size() - dot == 2) {
      text += '0';
    }
  }
  return (rounded < 0 ? "-$" : "$") + text;
}

std::string count(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

std::uint64_t input_tokens(const TokenUsage& tokens) {
  return tokens.input + tokens.cached_input + tokens.cache_write;
}

std::uint64_t output_tokens(const TokenUsage& tokens) { return tokens.output + tokens.reasoning; }

std::string_view key_title(GroupBy by) {
  switch (by) {
    case GroupBy::workflow:
      return "Workflow";
    case GroupBy::owner:
      return "Owner";
    case GroupBy::provider:
      return "Provider";
    case GroupBy::model:
      return "Model";
    case GroupBy::route:
      return "Route";
  }
  return "Key";
}

bool has_people(GroupBy by) { return by == GroupBy::workflow || by == GroupBy::owner; }

const BudgetUse* find_budget(const ReportRow& row, BudgetWindow window) {
  for (const BudgetUse& use : row.budgets) {
    if (use.window == window) return &use;
  }
  return nullptr;
}

std::optional<double> utilization(const ReportRow& row, BudgetWindow window) {
  const BudgetUse* use = find_budget(row, window);
  return use == nullptr ? std::nullopt : use->utilization();
}

std::string timestamp(std::chrono::sys_time<std::chrono::microseconds> at) {
  return format_timestamp(std::chrono::floor<std::chrono::seconds>(at));
}

}  // namespace spendwall::metering::report::format
