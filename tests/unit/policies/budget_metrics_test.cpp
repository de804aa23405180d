#include "policies/budget_metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <map>

#include "policy_test_support.hpp"

namespace spendwall::policies {
namespace {

using testing::at;
using testing::config_of;
using testing::daily_budget;
using testing::kUsd;
using testing::workflow;

/// family name → (first label, second label) → value
using Exported = std::map<std::string, std::map<std::pair<std::string, std::string>, double>>;

Exported collect(const BudgetMetrics& metrics) {
  Exported exported;
  for (const auto& family : metrics.Collect()) {
    for (const auto& metric : family.metric) {
      double value = family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                                    : metric.gauge.value;
      exported[family.name][{metric.label.at(0).value, metric.label.at(1).value}] = value;
    }
  }
  return exported;
}

TEST(BudgetMetrics, ExportsLimitsSpendReservationsAndDecisions) {
  FakeClock clock(at("2026-12-02T10:00:00Z"));
  BudgetBook book(
      config_of({workflow("support", daily_budget(1 * kUsd)), workflow("free", std::nullopt)}),
      clock);
  WorkflowBudget& support = *book.find("support");

  Admission settled = book.admit(support, {kUsd / 4, std::nullopt, {}});
  book.settle(settled.reservation, kUsd / 5);
  Admission in_flight = book.admit(support, {kUsd / 2, std::nullopt, {}});
  Admission refused = book.admit(support, {kUsd, std::nullopt, {}});
  ASSERT_TRUE(in_flight.admitted());
  ASSERT_EQ(refused.action, BudgetAction::block);

  Exported exported = collect(BudgetMetrics(book));
  EXPECT_DOUBLE_EQ((exported["spendwall_budget_limit_usd"][{"support", "daily"}]), 1.0);
  EXPECT_DOUBLE_EQ((exported["spendwall_budget_spent_usd"][{"support", "daily"}]), 0.2);
  EXPECT_DOUBLE_EQ((exported["spendwall_budget_reserved_usd"][{"support", "daily"}]), 0.5);
  EXPECT_DOUBLE_EQ((exported["spendwall_budget_actions_total"][{"support", "blocked"}]), 1.0);
  EXPECT_DOUBLE_EQ((exported["spendwall_budget_actions_total"][{"support", "downgraded"}]), 0.0);
  EXPECT_EQ(exported["spendwall_budget_limit_usd"].count({"free", "daily"}), 0u)
      << "a workflow without a budget has no limit series";
  book.settle(in_flight.reservation, 0);
}

}  // namespace
}  // namespace spendwall::policies
