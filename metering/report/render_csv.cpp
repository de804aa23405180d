#include <string>
#include <vector>

#include "metering/report/render.hpp"
#include "metering/report/render_format.hpp"

namespace spendwall::metering::report {
namespace {

/// One RFC 4180 field: quoted when it holds a comma, a quote or a line break, with its
/// quotes doubled.
void append_field(std::string_view field, std::string& out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_record(const std::vector<std::string>& fields, std::string& out) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    append_field(fields[i], out);
  }
  out += "\r\n";
}

}  // namespace

std::string render_csv(const Report& report) {
  // Every grouping has the same columns (the key is `key`, as in JSON), so files of several
  // runs stack in one sheet.
  std::vector<std::string> header{"key",
                                  "owner",
                                  "review",
                                  "requests",
                                  "input_tokens",
                                  "cached_input_tokens",
                                  "cache_write_tokens",
                                  "output_tokens",
                                  "reasoning_tokens",
                                  "spend_usd",
                                  "previous_spend_usd",
                                  "change",
                                  "fallback_share",
                                  "estimated_share"};
  for (const std::string& outcome : report.outcome_names) header.push_back("outcome_" + outcome);
  for (const char* name :
       {"cost_per_accepted_usd", "daily_utilization", "monthly_utilization", "exceptions"}) {
    header.emplace_back(name);
  }

  std::string out;
  append_record(header, out);
  for (const ReportRow& row : report.rows) {
    const Traffic& traffic = row.traffic;
    std::vector<std::string> fields{row.key,
                                    row.owner.value_or(""),
                                    row.review.value_or(""),
                                    std::to_string(traffic.requests),
                                    std::to_string(traffic.tokens.input),
                                    std::to_string(traffic.tokens.cached_input),
                                    std::to_string(traffic.tokens.cache_write),
                                    std::to_string(traffic.tokens.output),
                                    std::to_string(traffic.tokens.reasoning),
                                    format::usd(traffic.spend, ""),
                                    format::usd(traffic.previous_spend, ""),
                                    format::decimal(traffic.change()),
                                    format::decimal(traffic.fallback_share()),
                                    format::decimal(traffic.estimated_share())};
    for (const std::string& outcome : report.outcome_names) {
      fields.push_back(std::to_string(traffic.outcome_count(outcome)));
    }
    fields.push_back(format::usd(traffic.cost_per_accepted(), ""));
    fields.push_back(format::decimal(format::utilization(row, BudgetWindow::daily)));
    fields.push_back(format::decimal(format::utilization(row, BudgetWindow::monthly)));
    fields.push_back(format::has_people(report.by) ? std::to_string(row.exceptions.size()) : "");
    append_record(fields, out);
  }
  return out;
}

}  // namespace spendwall::metering::report
