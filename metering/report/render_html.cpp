#include <algorithm>
#include <string>
#include <vector>

#include "metering/report/render.hpp"
#include "metering/report/render_format.hpp"
#include "metering/report/svg_chart.hpp"

namespace spendwall::metering::report {
namespace {

constexpr std::string_view kAbsent = "\u2014";  // an em dash

// System fonts only: the page must look right offline and fetch nothing.
constexpr std::string_view kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 0 0 12px; }
.period { color: #57606a; margin: 0 0 24px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 0 0 20px; }
.kpi { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 14px 18px; }
.kpi .label { font-size: 12px; color: #57606a; text-transform: uppercase; letter-spacing: .05em; }
.kpi .value { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; }
.kpi .detail { font-size: 13px; color: #57606a; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 18px 20px; margin: 0 0 20px; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 20px; }
.pair { margin: 0 0 20px; }
.pair section { margin: 0; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: inherit; font-size: 12px; fill: #57606a; }
svg text.value { fill: #1f2328; font-weight: 600; }
svg text.empty { font-size: 15px; }
svg .grid { stroke: #eaeef2; }
svg .axis { stroke: #8c959f; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0; margin: 10px 0 0; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
.caption { font-size: 13px; color: #57606a; margin: 8px 0 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid #eaeef2; text-align: right; white-space: nowrap; }
th { font-weight: 600; color: #57606a; border-bottom: 2px solid #d0d7de; white-space: normal; vertical-align: bottom; }
th.text, td.text { text-align: left; }
td.wrap { white-space: normal; min-width: 260px; }
tfoot td { font-weight: 650; border-top: 2px solid #d0d7de; border-bottom: 0; }
.up { color: #b42318; }
.down { color: #067647; }
.notes { font-size: 13px; color: #57606a; }
footer { font-size: 12px; color: #6e7781; }
@media print { body { background: #fff; } section, .kpi { break-inside: avoid; } }
)css";

void append_escaped(std::string& out, std::string_view text) { svg::escape(text, out); }

/// The change column reads red when spend grew and green when it fell.
std::string_view change_class(std::string_view cell) {
  if (cell.starts_with('+') && cell != "+0.0%") return " up";
  if (cell.starts_with('-') && cell != "-0.0%") return " down";
  return "";
}

void kpi(std::string& out, std::string_view label, std::string_view value,
         std::string_view detail) {
  out += "<div class=\"kpi\"><div class=\"label\">";
  append_escaped(out, label);
  out += "</div><div class=\"value\">";
  append_escaped(out, value);
  out += "</div><div class=\"detail\">";
  append_escaped(out, detail);
  out += "</div></div>\n";
}

void headline(std::string& out, const Report& report) {
  const Traffic& totals = report.totals;
  out += "<div class=\"kpis\">\n";
  kpi(out, "Spend", format::rounded_usd(totals.spend),
      format::percent(totals.change(), true, "no spend") + " against " +
          format::rounded_usd(totals.previous_spend) + " the period before");
  kpi(out, "Requests", format::count(totals.requests),
      format::percent(totals.fallback_share(), false, "no") + " fell back, " +
          format::percent(totals.estimated_share(), false, "no") + " estimated usage");
  const auto per_accepted = totals.cost_per_accepted();
  kpi(out, "Cost per accepted outcome",
      per_accepted ? format::rounded_usd(*per_accepted) : std::string(kAbsent),
      format::count(totals.accepted()) + " accepted outcomes");
  kpi(out, "Budget exceptions", format::count(report.exceptions.size()), "raised in the period");
  out += "</div>\n";
}

void charts(std::string& out, const Report& report) {
  out += "<section>\n<h2>Daily spend per workflow</h2>\n";
  out += svg::daily_spend_chart(report.charts);
  out += "<p class=\"caption\">USD per UTC day; columns stack the workflows' spend.</p>\n";
  out += "</section>\n<div class=\"pair\">\n<section>\n<h2>Spend by provider</h2>\n";
  std::vector<svg::Bar> providers;
  for (const ChartData::Spend& provider : report.charts.provider_spend) {
    providers.push_back({provider.key, provider.spend});
  }
  out +=
      svg::bar_chart("provider-spend", "Spend by provider", providers, "No spend in this period");
  out += "</section>\n<section>\n<h2>Cost per accepted outcome</h2>\n";
  std::vector<svg::Bar> per_accepted;
  std::string none_accepted;
  for (const ChartData::Spend& workflow : report.charts.workflow_spend) {
    if (const auto cost = cost_per_accepted(workflow.spend, workflow.accepted)) {
      per_accepted.push_back({workflow.key, *cost});
    } else {
      none_accepted += (none_accepted.empty() ? "" : ", ") + workflow.key;
    }
  }
  std::stable_sort(per_accepted.begin(), per_accepted.end(),
                   [](const svg::Bar& a, const svg::Bar& b) { return a.value > b.value; });
  out += svg::bar_chart("cost-per-accepted", "Cost per accepted outcome by workflow", per_accepted,
                        "No accepted outcomes in this period");
  out += "<p class=\"caption\">A workflow's whole spend divided by its accepted outcomes.";
  if (!none_accepted.empty()) {
    out += " No accepted outcome: ";
    append_escaped(out, none_accepted);
    out += ".";
  }
  out += "</p>\n</section>\n</div>\n";
}

/// One line of the table: the cells of the columns in `view`.
void table_line(std::string& out, const format::TableLayout& layout,
                const std::vector<std::string>& line, format::View view, std::string_view tag) {
  out += "<tr>";
  for (std::size_t i = 0; i < layout.columns.size(); ++i) {
    const format::TableColumn& column = layout.columns[i];
    if ((column.views & view) == 0) continue;
    out += "<";
    out += tag;
    out += " class=\"";
    out += column.text ? "text" : "num";
    if (column.change && tag == "td") out += change_class(line[i]);
    out += "\">";
    append_escaped(out, line[i]);
    out += "</";
    out += tag;
    out += ">";
  }
  out += "</tr>\n";
}

void main_table(std::string& out, const Report& report, const format::TableLayout& layout,
                format::View view, std::string_view title, std::string_view caption) {
  std::vector<std::string> header;
  std::size_t shown = 0;
  for (const format::TableColumn& column : layout.columns) {
    header.push_back(column.title);
    if ((column.views & view) != 0) ++shown;
  }
  out += "<section>\n<h2>";
  append_escaped(out, title);
  out += " by ";
  out += to_string(report.by);
  out += "</h2>\n<div class=\"scroll\"><table>\n<thead>";
  table_line(out, layout, header, view, "th");
  out += "</thead>\n<tbody>\n";
  for (const auto& row : layout.rows) table_line(out, layout, row, view, "td");
  if (layout.rows.empty()) {
    out += "<tr><td class=\"text\" colspan=\"" + std::to_string(shown) +
           "\">No requests in this period.</td></tr>\n";
  }
  out += "</tbody>\n<tfoot>";
  table_line(out, layout, layout.totals, view, "td");
  out += "</tfoot>\n</table></div>\n<p class=\"caption\">";
  append_escaped(out, caption);
  out += "</p>\n</section>\n";
}

void exceptions(std::string& out, const Report& report) {
  out += "<section>\n<h2>Budget exceptions</h2>\n";
  if (report.exceptions.empty()) {
    out += "<p class=\"caption\">None raised in this period.</p>\n</section>\n";
    return;
  }
  out += "<div class=\"scroll\"><table>\n<thead><tr>";
  for (const char* title : {"At", "Workflow", "Owner", "Kind", "Id", "Next action"}) {
    out += "<th class=\"text\">";
    out += title;
    out += "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const ExceptionEntry& entry : report.exceptions) {
    out += "<tr>";
    for (const std::string& value :
         {format::timestamp(entry.at), entry.workflow, entry.owner, entry.kind, entry.id}) {
      out += "<td class=\"text\">";
      append_escaped(out, value);
      out += "</td>";
    }
    out += "<td class=\"text wrap\">";
    append_escaped(out, entry.next_action);
    out += "</td></tr>\n";
  }
  out += "</tbody>\n</table></div>\n</section>\n";
}

}  // namespace

std::string render_html(const Report& report) {
  const std::string since = format_timestamp(report.period.since);
  const std::string until = format_timestamp(report.period.until);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  append_escaped(out, "Spendwall spend review, " + since + " to " + until);
  out += "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<main>\n<h1>Spend review</h1>\n<p class=\"period\">";
  append_escaped(out, since + " to " + until + " by " + std::string(to_string(report.by)) +
                          ", against " + format_timestamp(report.previous.since) + " to " +
                          format_timestamp(report.previous.until));
  out += "</p>\n";
  headline(out, report);
  charts(out, report);
  const format::TableLayout layout = format::table_layout(report, kAbsent);
  main_table(out, report, layout, format::kSpendView, "Spend",
             "USD, exact. Budget columns: spend in the window that holds the end of the period, "
             "over its limit.");
  main_table(out, report, layout, format::kQualityView, "Outcomes and fallbacks",
             "Shares of requests; outcome counts from feedback on the period's requests. "
             "USD/accepted is the whole spend over the accepted outcomes.");
  exceptions(out, report);
  out += "<footer>\n";
  for (const std::string& note : report.notes) {
    out += "<p class=\"notes\">Note: ";
    append_escaped(out, note);
    out += "</p>\n";
  }
  out +=
      "<p>Generated by spendwall report. Times are UTC.</p>\n</footer>\n</main>\n</body>\n"
      "</html>\n";
  return out;
}

std::string render(const Report& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::table:
      return render_table(report);
    case ReportFormat::csv:
      return render_csv(report);
    case ReportFormat::json:
      return render_json(report);
    case ReportFormat::html:
      return render_html(report);
  }
  return render_table(report);
}

}  // namespace spendwall::metering::report
