#include "policies/budget_metrics.hpp"

#include <prometheus/metric_family.h>

#include <string>

#include "metering/metric_names.hpp"

namespace spendwall::policies {
namespace {

using metering::metric_def;
using metering::MetricDef;

constexpr const MetricDef& kLimit = metric_def("spendwall_budget_limit_usd");
constexpr const MetricDef& kSpent = metric_def("spendwall_budget_spent_usd");
constexpr const MetricDef& kReserved = metric_def("spendwall_budget_reserved_usd");
constexpr const MetricDef& kOverrideActive = metric_def("spendwall_budget_override_active");
constexpr const MetricDef& kOvershoot = metric_def("spendwall_budget_overshoot_usd_total");
constexpr const MetricDef& kActions = metric_def("spendwall_budget_actions_total");

double usd(NanoUsd value) {
  return static_cast<double>(value) / static_cast<double>(config::kNanoPerUsd);
}

/// One family of metrics.md, filled series by series with labels in its declared order.
class Family {
 public:
  explicit Family(const MetricDef& def) : def_(def) {
    family_.name = def.name;
    family_.help = def.help;
    family_.type = def.type;
  }

  void add(const std::string& first, std::string_view second, double value) {
    prometheus::ClientMetric& metric = family_.metric.emplace_back();
    metric.label = {{std::string(def_.labels[0]), first},
                    {std::string(def_.labels[1]), std::string(second)}};
    if (def_.type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
  }

  void move_into(std::vector<prometheus::MetricFamily>& out) && {
    if (!family_.metric.empty()) out.push_back(std::move(family_));
  }

 private:
  const MetricDef& def_;
  prometheus::MetricFamily family_;
};

/// The `action` label of spendwall_budget_actions_total; admissions are not actions.
constexpr std::array<std::string_view, kBudgetActionCount> kActionLabels{
    "", "downgraded", "alerted", "blocked", "session_blocked"};

}  // namespace

std::vector<prometheus::MetricFamily> BudgetMetrics::Collect() const {
  Family limit(kLimit), spent(kSpent), reserved(kReserved), override_active(kOverrideActive),
      overshoot(kOvershoot), actions(kActions);
  for (const WorkflowBudgetView& view : book_.views()) {
    for (std::size_t action = 1; action < kBudgetActionCount; ++action) {
      actions.add(view.workflow, kActionLabels[action],
                  static_cast<double>(view.decisions_made[action]));
    }
    if (!view.has_budget) continue;
    for (const WindowView& window : view.windows) {
      if (!window.limit) continue;
      std::string_view name = to_string(window.kind);
      limit.add(view.workflow, name, usd(*window.limit));
      spent.add(view.workflow, name, usd(window.spent));
      reserved.add(view.workflow, name, usd(window.reserved));
      overshoot.add(view.workflow, name, usd(window.overshoot_total));
    }
    if (view.active_override) override_active.add(view.workflow, view.active_override->name, 1.0);
  }
  std::vector<prometheus::MetricFamily> families;
  std::move(actions).move_into(families);
  std::move(limit).move_into(families);
  std::move(override_active).move_into(families);
  std::move(overshoot).move_into(families);
  std::move(reserved).move_into(families);
  std::move(spent).move_into(families);
  return families;
}

}  // namespace spendwall::policies
