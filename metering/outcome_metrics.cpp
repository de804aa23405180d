#include "metering/outcome_metrics.hpp"

#include <prometheus/metric_family.h>

#include "metering/metric_names.hpp"

namespace spendwall::metering {
namespace {

constexpr const MetricDef& kOutcomes = metric_def("spendwall_outcomes_total");
constexpr const MetricDef& kOutcomeCost = metric_def("spendwall_outcome_cost_usd_total");

prometheus::MetricFamily family_of(const MetricDef& def) {
  prometheus::MetricFamily family;
  family.name = def.name;
  family.help = def.help;
  family.type = def.type;
  return family;
}

void add_counter(prometheus::MetricFamily& family, const std::string& workflow,
                 const std::string& outcome, double value) {
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  metric.label = {{"workflow", workflow}, {"outcome", outcome}};
  metric.counter.value = value;
}

}  // namespace

void OutcomeMetrics::count(std::string_view workflow, std::string_view outcome,
                           config::NanoUsd cost) {
  const std::lock_guard lock(mutex_);
  auto [it, added] = totals_.try_emplace({std::string(workflow), std::string(outcome)});
  ++it->second.outcomes;
  it->second.cost += cost;
}

std::vector<prometheus::MetricFamily> OutcomeMetrics::Collect() const {
  const std::lock_guard lock(mutex_);
  if (totals_.empty()) return {};
  prometheus::MetricFamily outcomes = family_of(kOutcomes);
  prometheus::MetricFamily cost = family_of(kOutcomeCost);
  for (const auto& [key, totals] : totals_) {
    add_counter(outcomes, key.first, key.second, static_cast<double>(totals.outcomes));
    // Money stays integer nano-USD until this one conversion.
    add_counter(cost, key.first, key.second,
                static_cast<double>(totals.cost) / static_cast<double>(config::kNanoPerUsd));
  }
  return {std::move(cost), std::move(outcomes)};
}

}  // namespace spendwall::metering
