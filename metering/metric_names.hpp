#pragma once

#include <prometheus/metric_type.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

/// Every metric Spendwall exports (spec: metrics.md), in one table sorted by name: its
/// type, its labels in exposition order, and its help text. Code that emits a family
/// takes its name, type, labels and help from here, so the exported set is reviewable in
/// one place and a test can check every name and label against Prometheus' rules.
/// Thread-safety: constants.
namespace spendwall::metering {

inline constexpr std::size_t kMaxMetricLabels = 7;

struct MetricDef {
  std::string_view name;
  prometheus::MetricType type;
  /// Label names in exposition order; the unused tail is empty.
  std::array<std::string_view, kMaxMetricLabels> labels;
  std::string_view help;

  constexpr std::size_t label_count() const noexcept {
    std::size_t count = 0;
    while (count < labels.size() && !labels[count].empty()) ++count;
    return count;
  }
};

/// Short names for the table below.
namespace metric_type {
inline constexpr auto counter = prometheus::MetricType::Counter;
inline constexpr auto gauge = prometheus::MetricType::Gauge;
inline constexpr auto histogram = prometheus::MetricType::Histogram;
}  // namespace metric_type

// clang-format off
inline constexpr auto kMetricDefs = std::to_array<MetricDef>({
  {"spendwall_active_requests", metric_type::gauge, {"workflow"},
   "Requests in flight."},
  {"spendwall_alert_deliveries_total", metric_type::counter, {"sink", "result"},
   "Alert deliveries by sink and result (ok, retry, failed)."},
  {"spendwall_budget_actions_total", metric_type::counter, {"workflow", "action"},
   "Budget actions taken (blocked, downgraded, alerted, session_blocked)."},
  {"spendwall_budget_limit_usd", metric_type::gauge, {"workflow", "window"},
   "Current budget limit of the window, override applied."},
  {"spendwall_budget_override_active", metric_type::gauge, {"workflow", "override"},
   "1 while the budget override is active."},
  {"spendwall_budget_overshoot_usd_total", metric_type::counter, {"workflow", "window"},
   "Settled spend beyond the window's effective limit, whatever the action."},
  {"spendwall_budget_reserved_usd", metric_type::gauge, {"workflow", "window"},
   "In-flight budget reservations of the window."},
  {"spendwall_budget_spent_usd", metric_type::gauge, {"workflow", "window"},
   "Settled spend in the current window."},
  {"spendwall_build_info", metric_type::gauge, {"version", "commit"},
   "Build identity (always 1)."},
  {"spendwall_config_last_reload_success_timestamp_seconds", metric_type::gauge, {},
   "Unix time of the last successful config load."},
  {"spendwall_config_reloads_total", metric_type::counter, {"result"},
   "Config reloads by result (ok, rejected)."},
  {"spendwall_cost_usd_total", metric_type::counter, {"workflow", "route", "provider", "model"},
   "Metered cost in USD."},
  {"spendwall_exceptions_total", metric_type::counter, {"workflow", "kind"},
   "Budget exceptions raised."},
  {"spendwall_fallbacks_total", metric_type::counter,
   {"workflow", "route", "from_provider", "from_model", "to_provider", "to_model", "reason"},
   "Moves from one upstream target to another, by failure class."},
  {"spendwall_ledger_records_total", metric_type::counter, {},
   "Ledger records written."},
  {"spendwall_ledger_write_errors_total", metric_type::counter, {},
   "Ledger writes that failed."},
  {"spendwall_outcome_cost_usd_total", metric_type::counter, {"workflow", "outcome"},
   "Cost in USD of the requests that received each outcome."},
  {"spendwall_outcomes_total", metric_type::counter, {"workflow", "outcome"},
   "Outcome feedback received."},
  {"spendwall_proxy_overhead_seconds", metric_type::histogram, {"endpoint"},
   "Time spent in the proxy itself, upstream excluded."},
  {"spendwall_requests_total", metric_type::counter,
   {"workflow", "route", "provider", "model", "endpoint", "code"},
   "Finished authenticated requests on metered endpoints by final HTTP status."},
  {"spendwall_time_to_first_token_seconds", metric_type::histogram, {"provider", "model"},
   "Time to the first body byte of a streamed upstream response."},
  {"spendwall_tokens_total", metric_type::counter, {"workflow", "provider", "model", "type"},
   "Metered tokens by kind (input, cached_input, cache_write, output, reasoning)."},
  {"spendwall_unauthenticated_requests_total", metric_type::counter, {"endpoint"},
   "Requests with a missing or unknown key."},
  {"spendwall_upstream_attempts_total", metric_type::counter, {"provider", "model", "result"},
   "Upstream attempts by result."},
  {"spendwall_upstream_connections", metric_type::gauge, {"provider", "state"},
   "Open upstream connections by state (idle, active)."},
  {"spendwall_upstream_duration_seconds", metric_type::histogram, {"provider", "model"},
   "Duration of the whole upstream exchange."},
  {"spendwall_usage_estimated_total", metric_type::counter, {"workflow", "provider", "model"},
   "Requests whose usage was estimated because the provider did not report it."},
  {"spendwall_workflow_info", metric_type::gauge, {"workflow", "owner", "contact", "review"},
   "Workflow ownership, for joins on workflow (always 1)."},
});
// clang-format on

static_assert(std::is_sorted(kMetricDefs.begin(), kMetricDefs.end(),
                             [](const MetricDef& a, const MetricDef& b) {
                               return a.name < b.name;
                             }),
              "kMetricDefs must stay sorted by name");

/// The entry named `name`; a name missing from the table does not compile.
consteval const MetricDef& metric_def(std::string_view name) {
  const auto* found = std::lower_bound(
      kMetricDefs.begin(), kMetricDefs.end(), name,
      [](const MetricDef& def, std::string_view wanted) { return def.name < wanted; });
  if (found == kMetricDefs.end() || found->name != name) throw "metric missing from kMetricDefs";
  return *found;
}

}  // namespace spendwall::metering
