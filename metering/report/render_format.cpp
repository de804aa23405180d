#include "metering/report/render_format.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>

#include "config/units.hpp"

namespace spendwall::metering::report::format {
namespace {

/// `value` rounded half away from zero to a multiple of `step`.
config::NanoUsd round_to(config::NanoUsd value, config::NanoUsd step) {
  const config::NanoUsd half = step / 2;
  const config::NanoUsd rounded = value < 0 ? -((-value + half) / step) : (value + half) / step;
  return rounded * step;
}

}  // namespace

TableLayout table_layout(const Report& report, std::string_view absent) {
  // One definition per column: its header and how a row (or the totals, row == nullptr)
  // fills it, so that titles and cells cannot drift apart.
  using Cell = std::function<std::string(const Traffic&, const ReportRow*)>;
  struct Definition {
    TableColumn column;
    Cell cell;
  };
  const std::string none(absent);
  const bool people = has_people(report.by);
  std::vector<Definition> columns;
  const auto add = [&](std::string title, unsigned views, Cell cell, bool text = false,
                       bool change = false) {
    columns.push_back({{std::move(title), text, change, views}, std::move(cell)});
  };

  add(
      std::string(key_title(report.by)), kBothViews,
      [](const Traffic&, const ReportRow* row) { return row ? row->key : "Total"; }, true);
  if (report.by == GroupBy::workflow) {
    add(
        "Owner", kSpendView,
        [none](const Traffic&, const ReportRow* row) {
          return row ? row->owner.value_or(none) : "";
        },
        true);
  }
  if (people) {
    add(
        "Review", kSpendView,
        [none](const Traffic&, const ReportRow* row) {
          return row ? row->review.value_or(none) : "";
        },
        true);
  }
  add("Requests", kBothViews, [](const Traffic& t, const ReportRow*) { return count(t.requests); });
  add("In tokens", kSpendView,
      [](const Traffic& t, const ReportRow*) { return count(input_tokens(t.tokens)); });
  add("Out tokens", kSpendView,
      [](const Traffic& t, const ReportRow*) { return count(output_tokens(t.tokens)); });
  add("Spend USD", kSpendView,
      [none](const Traffic& t, const ReportRow*) { return usd(t.spend, none); });
  add("Previous USD", kSpendView,
      [none](const Traffic& t, const ReportRow*) { return usd(t.previous_spend, none); });
  add(
      "Change", kSpendView,
      [none](const Traffic& t, const ReportRow*) { return percent(t.change(), true, none); }, false,
      true);
  add("Fallbacks", kQualityView, [none](const Traffic& t, const ReportRow*) {
    return percent(t.fallback_share(), false, none);
  });
  add("Estimated", kQualityView, [none](const Traffic& t, const ReportRow*) {
    return percent(t.estimated_share(), false, none);
  });
  for (const std::string& outcome : report.outcome_names) {
    std::string title = outcome;
    if (!title.empty()) {
      title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    }
    add(std::move(title), kQualityView,
        [outcome](const Traffic& t, const ReportRow*) { return count(t.outcome_count(outcome)); });
  }
  add("USD/accepted", kQualityView,
      [none](const Traffic& t, const ReportRow*) { return usd(t.cost_per_accepted(), none); });
  if (people) {
    // Budgets are per workflow: the totals line leaves them blank.
    for (BudgetWindow window : {BudgetWindow::daily, BudgetWindow::monthly}) {
      add(window == BudgetWindow::daily ? "Daily budget" : "Monthly budget", kSpendView,
          [none, window](const Traffic&, const ReportRow* row) {
            return row ? percent(utilization(*row, window), false, none) : "";
          });
    }
    add("Exceptions", kSpendView, [&report](const Traffic&, const ReportRow* row) {
      return count(row ? row->exceptions.size() : report.exceptions.size());
    });
  }

  TableLayout layout;
  for (const Definition& definition : columns) layout.columns.push_back(definition.column);
  const auto cells = [&](const Traffic& traffic, const ReportRow* row) {
    std::vector<std::string> line;
    for (const Definition& definition : columns) line.push_back(definition.cell(traffic, row));
    return line;
  };
  for (const ReportRow& row : report.rows) layout.rows.push_back(cells(row.traffic, &row));
  layout.totals = cells(report.totals, nullptr);
  return layout;
}

std::string percent(std::optional<double> ratio, bool signed_change, std::string_view absent) {
  if (!ratio || !std::isfinite(*ratio)) return std::string(absent);
  // A share that rounds to zero is still not nothing.
  if (!signed_change && *ratio > 0 && *ratio < 0.0005) return "<0.1%";
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
