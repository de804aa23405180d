#pragma once

#include <vector>

#include <prometheus/collectable.h>

#include "policies/budget_book.hpp"

/// The budget families of metrics.md (`spendwall_budget_*`), read from the budget book's
/// views at scrape time.
/// Thread-safety: Collect() reads control-thread state: call it on the control thread
/// (the admin plane scrapes there).
namespace spendwall::policies {

class BudgetMetrics final : public prometheus::Collectable {
 public:
  explicit BudgetMetrics(const BudgetBook& book) : book_(book) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const BudgetBook& book_;
};

}  // namespace spendwall::policies
