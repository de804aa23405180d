#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metering/report/report.hpp"

/// Inline SVG charts for the HTML report, drawn here so that the page needs no script and
/// no network. Every chart is an `<svg data-chart="ID">` and every bar a `<rect class="bar">`
/// with a `<title>` tooltip, so that tests (and readers with a mouse) can find the figures.
/// Thread-safety: pure functions.
namespace spendwall::metering::report::svg {

/// Appends `text` escaped for HTML or SVG text and attribute values.
void escape(std::string_view text, std::string& out);
std::string escaped(std::string_view text);

/// Series drawn with their own colour; smaller ones are merged into `other`.
inline constexpr std::size_t kMaxSeries = 8;

/// Stacked columns of spend per UTC day, one segment per workflow with spend that day
/// (`data-chart="daily-spend"`), followed by an HTML legend.
std::string daily_spend_chart(const ChartData& charts);

struct Bar {
  std::string label;
  config::NanoUsd value = 0;
};

/// Horizontal bars in the given order (`data-chart="<id>"`), labelled with their amounts.
/// `empty_text` stands in when there are no bars.
std::string bar_chart(std::string_view id, std::string_view description,
                      const std::vector<Bar>& bars, std::string_view empty_text);

}  // namespace spendwall::metering::report::svg
