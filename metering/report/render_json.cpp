#include <string>

#include "metering/json_writer.hpp"
#include "metering/report/render.hpp"
#include "metering/report/render_format.hpp"

namespace spendwall::metering::report {
namespace {

void write_optional(JsonWriter& json, std::optional<double> value) {
  if (value) {
    json.number(*value);
  } else {
    json.null();
  }
}

void write_optional_usd(JsonWriter& json, std::optional<config::NanoUsd> value) {
  if (value) {
    json.usd(*value);
  } else {
    json.null();
  }
}

void write_optional_text(JsonWriter& json, const std::optional<std::string>& value) {
  if (value) {
    json.string(*value);
  } else {
    json.null();
  }
}

void write_period(JsonWriter& json, const Period& period) {
  json.key("since").string(format_timestamp(period.since));
  json.key("until").string(format_timestamp(period.until));
}

void write_exception(JsonWriter& json, const ExceptionEntry& entry) {
  json.begin_object();
  json.key("id").string(entry.id);
  json.key("kind").string(entry.kind);
  json.key("at").string(format::timestamp(entry.at));
  json.key("workflow").string(entry.workflow);
  json.key("owner").string(entry.owner);
  json.key("next_action").string(entry.next_action);
  json.end_object();
}

/// The figures a row and the totals share.
void write_traffic(JsonWriter& json, const Report& report, const Traffic& traffic) {
  json.key("requests").integer(traffic.requests);
  json.key("tokens").begin_object();
  json.key("input").integer(traffic.tokens.input);
  json.key("cached_input").integer(traffic.tokens.cached_input);
  json.key("cache_write").integer(traffic.tokens.cache_write);
  json.key("output").integer(traffic.tokens.output);
  json.key("reasoning").integer(traffic.tokens.reasoning);
  json.end_object();
  json.key("spend_usd").usd(traffic.spend);
  json.key("previous_spend_usd").usd(traffic.previous_spend);
  json.key("change");
  write_optional(json, traffic.change());
  json.key("fallback_share");
  write_optional(json, traffic.fallback_share());
  json.key("estimated_share");
  write_optional(json, traffic.estimated_share());
  json.key("outcomes").begin_object();
  for (const std::string& outcome : report.outcome_names) {
    json.key(outcome).integer(traffic.outcome_count(outcome));
  }
  json.end_object();
  json.key("cost_per_accepted_usd");
  write_optional_usd(json, traffic.cost_per_accepted());
}

}  // namespace

std::string render_json(const Report& report) {
  std::string out;
  JsonWriter json(out);
  json.begin_object();
  write_period(json, report.period);
  json.key("by").string(to_string(report.by));
  json.key("previous").begin_object();
  write_period(json, report.previous);
  json.end_object();

  json.key("rows").begin_array();
  for (const ReportRow& row : report.rows) {
    json.begin_object();
    json.key("key").string(row.key);
    json.key("owner");
    write_optional_text(json, row.owner);
    json.key("review");
    write_optional_text(json, row.review);
    write_traffic(json, report, row.traffic);
    json.key("budget_utilization").begin_object();
    for (const BudgetUse& use : row.budgets) {
      json.key(to_string(use.window));
      write_optional(json, use.utilization());
    }
    json.end_object();
    json.key("exceptions").begin_array();
    for (const ExceptionEntry& entry : row.exceptions) write_exception(json, entry);
    json.end_array();
    json.end_object();
  }
  json.end_array();

  json.key("totals").begin_object();
  write_traffic(json, report, report.totals);
  json.end_object();

  json.key("exceptions").begin_array();
  for (const ExceptionEntry& entry : report.exceptions) write_exception(json, entry);
  json.end_array();
  json.key("notes").begin_array();
  for (const std::string& note : report.notes) json.string(note);
  json.end_array();
  json.end_object();
  out += '\n';
  return out;
}

}  // namespace spendwall::metering::report
