#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/// Structural checks of the HTML report's inline SVG charts.
/// Thread-safety: pure functions.
namespace spendwall::metering::report::testing {

/// The `<svg data-chart="ID">…</svg>` element of `html`; empty when there is none (or
/// more than one: each chart must appear once).
inline std::string_view chart_svg(std::string_view html, std::string_view chart) {
  const std::string marker = "data-chart=\"" + std::string(chart) + "\"";
  const std::size_t attribute = html.find(marker);
  if (attribute == std::string_view::npos) return {};
  if (html.find(marker, attribute + 1) != std::string_view::npos) return {};
  const std::size_t start = html.rfind("<svg", attribute);
  const std::size_t end = html.find("</svg>", attribute);
  if (start == std::string_view::npos || end == std::string_view::npos) return {};
  return html.substr(start, end + 6 - start);
}

/// Bars (`<rect class="bar"`) drawn in the chart; npos when the chart is missing.
inline std::size_t count_bars(std::string_view html, std::string_view chart) {
  const std::string_view svg = chart_svg(html, chart);
  if (svg.empty()) return std::string_view::npos;
  std::size_t bars = 0;
  for (std::size_t found = svg.find("<rect class=\"bar\""); found != std::string_view::npos;
       found = svg.find("<rect class=\"bar\"", found + 1)) {
    ++bars;
  }
  return bars;
}

}  // namespace spendwall::metering::report::testing
