#pragma once

#include <string>

#include "metering/report/report.hpp"

/// The four renderings of a `Report`. Money is exact everywhere a reader may copy it from
/// (JSON, CSV, tables); only chart labels round it.
/// Thread-safety: pure functions.
namespace spendwall::metering::report {

/// Aligned columns for a terminal, with a totals line, the exceptions and the notes.
std::string render_table(const Report& report);

/// RFC 4180: a header line, one line per row, CRLF line ends; ratios are plain decimals
/// and an absent value (no previous spend, nothing accepted) is an empty field.
std::string render_csv(const Report& report);

/// The admin-api.md `spendwall report --format json` document, plus `exceptions`, `notes`
/// and more totals.
std::string render_json(const Report& report);

/// One self-contained HTML page (inline CSS and SVG, no script, nothing fetched) for the
/// review meeting: headline figures, charts of daily spend per workflow, spend by provider
/// and cost per accepted outcome, the table and the exceptions.
std::string render_html(const Report& report);

std::string render(const Report& report, ReportFormat format);

}  // namespace spendwall::metering::report
