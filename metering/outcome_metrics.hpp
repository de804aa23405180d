#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>

#include "config/config.hpp"

/// `spendwall_outcomes_total` and `spendwall_outcome_cost_usd_total`: outcome feedback
/// arrives on the control plane (it touches the ledger), far from the request hot path,
/// so a mutex-guarded map is the simple and sufficient shape here.
/// Thread-safety: every member may be called from any thread.
namespace spendwall::metering {

class OutcomeMetrics final : public prometheus::Collectable {
 public:
  /// One feedback received for a request of `workflow` that cost `cost`. A replaced
  /// outcome counts again under its new name: the counters count feedback events.
  void count(std::string_view workflow, std::string_view outcome, config::NanoUsd cost);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Totals {
    std::uint64_t outcomes = 0;
    config::NanoUsd cost = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Totals, std::less<>> totals_;
};

}  // namespace spendwall::metering
