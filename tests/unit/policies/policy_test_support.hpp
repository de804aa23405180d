#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/units.hpp"
#include "policies/clock.hpp"

/// Builders for the configs and instants the policies tests use.
namespace spendwall::policies::testing {

inline constexpr config::NanoUsd kUsd = config::kNanoPerUsd;

/// An RFC 3339 instant; a typo fails the test instead of yielding the epoch.
inline TimePoint at(std::string_view text) {
  const auto parsed = config::parse_timestamp(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed ? TimePoint{*parsed} : TimePoint{};
}

/// The same instant as whole seconds, the type of window bounds.
inline std::chrono::sys_seconds utc(std::string_view text) {
  return std::chrono::floor<std::chrono::seconds>(at(text));
}

inline config::WorkflowPolicy workflow(std::string name, std::optional<config::BudgetSpec> budget) {
  config::WorkflowPolicy policy;
  policy.name = std::move(name);
  policy.owner = "support-platform";
  policy.contact = "#support-platform";
  policy.budget = std::move(budget);
  return policy;
}

inline config::BudgetSpec daily_budget(config::NanoUsd daily,
                                       config::OnExceeded action = config::OnExceeded::block) {
  config::BudgetSpec budget;
  budget.daily = daily;
  budget.on_exceeded = action;
  if (action == config::OnExceeded::downgrade) budget.downgrade_to = "chat-cheap";
  return budget;
}

inline config::ConfigSnapshot config_of(std::vector<config::WorkflowPolicy> workflows) {
  config::ConfigSnapshot snapshot;
  snapshot.workflows = std::move(workflows);
  return snapshot;
}

}  // namespace spendwall::policies::testing
