#pragma once

#include <prometheus/metric_family.h>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

/// Lookups into collected metric families for the metrics tests.
/// Thread-safety: pure functions.
namespace spendwall::metering::testing {

using LabelPairs = std::initializer_list<std::pair<std::string_view, std::string_view>>;

inline const prometheus::MetricFamily* find_family(
    const std::vector<prometheus::MetricFamily>& families, std::string_view name) {
  const auto found = std::find_if(families.begin(), families.end(),
                                  [&](const auto& family) { return family.name == name; });
  return found == families.end() ? nullptr : &*found;
}

/// The series of `name` whose labels are exactly `labels` (in exposition order), or null.
inline const prometheus::ClientMetric* find_series(
    const std::vector<prometheus::MetricFamily>& families, std::string_view name,
    LabelPairs labels) {
  const auto* family = find_family(families, name);
  if (family == nullptr) return nullptr;
  for (const auto& metric : family->metric) {
    if (std::equal(metric.label.begin(), metric.label.end(), labels.begin(), labels.end(),
                   [](const auto& have, const auto& want) {
                     return have.name == want.first && have.value == want.second;
                   })) {
      return &metric;
    }
  }
  return nullptr;
}

/// Value of a counter series, or -1 when the series does not exist.
inline double counter_value(const std::vector<prometheus::MetricFamily>& families,
                            std::string_view name, LabelPairs labels) {
  const auto* series = find_series(families, name, labels);
  return series == nullptr ? -1.0 : series->counter.value;
}

inline double gauge_value(const std::vector<prometheus::MetricFamily>& families,
                          std::string_view name, LabelPairs labels) {
  const auto* series = find_series(families, name, labels);
  return series == nullptr ? -1.0 : series->gauge.value;
}

/// Sum of every counter series of `name`.
inline double counter_sum(const std::vector<prometheus::MetricFamily>& families,
                          std::string_view name) {
  double sum = 0;
  if (const auto* family = find_family(families, name)) {
    for (const auto& metric : family->metric) sum += metric.counter.value;
  }
  return sum;
}

/// `prefix` followed by `n` ("m7"). Appends rather than using `"m" + std::to_string(n)`,
/// which trips GCC 12's false -Wrestrict at -O2.
template <class Integer>
std::string numbered(std::string_view prefix, Integer n) {
  std::string text(prefix);
  text += std::to_string(n);
  return text;
}

inline config::WorkflowPolicy workflow(std::string name, std::string owner) {
  config::WorkflowPolicy policy;
  policy.name = std::move(name);
  policy.owner = std::move(owner);
  policy.contact = "#" + policy.owner;
  policy.review = "quarterly";
  return policy;
}

/// A snapshot holding just the given workflows, routes, providers and models.
inline std::shared_ptr<const config::ConfigSnapshot> snapshot_with(
    std::vector<config::WorkflowPolicy> workflows, std::vector<std::string> routes = {},
    std::vector<std::string> providers = {}) {
  auto snapshot = std::make_shared<config::ConfigSnapshot>();
  snapshot->workflows = std::move(workflows);
  for (auto& name : routes) snapshot->routes.emplace_back().name = std::move(name);
  for (auto& name : providers) snapshot->providers.emplace_back().name = std::move(name);
  return snapshot;
}

}  // namespace spendwall::metering::testing
