#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "metering/endpoint.hpp"
#include "metering/usage.hpp"

/// One ledger record: everything PRODUCT.md §7 promises about a metered request.
/// Thread-safety: a plain value; built on a worker, then handed to the ledger.
namespace spendwall::metering {

enum class BudgetAction : std::uint8_t { none, blocked, downgraded, alerted, session_blocked };

/// One try at one target (same-target retries are attempts too).
struct AttemptRecord {
  std::string provider;
  std::string model;
  std::string result;   ///< ok, rate_limited, server_error, timeout, connect_error, context_length,
                        ///< client_error
  unsigned status = 0;  ///< HTTP status the provider answered, 0 when none
  double duration_ms = 0;
  friend bool operator==(const AttemptRecord&, const AttemptRecord&) = default;
};

struct Outcome {
  std::string outcome;
  std::optional<double> score;
  std::optional<std::string> note;
  std::chrono::system_clock::time_point at{};
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

struct RequestRecord {
  std::string id;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point finished_at{};
  std::string workflow;
  std::string route;     ///< empty until resolved
  std::string provider;  ///< empty until a target was chosen
  std::string model;     ///< the target's model name, empty until chosen
  Endpoint endpoint = Endpoint::chat_completions;
  bool stream = false;
  unsigned status = 0;
  TokenUsage tokens;
  UsageSource usage_source = UsageSource::reported;
  config::NanoUsd cost = 0;
  double latency_ms = 0;
  std::optional<double> ttft_ms;
  std::vector<AttemptRecord> attempts;
  std::uint32_t fallbacks = 0;
  BudgetAction budget_action = BudgetAction::none;
  std::optional<std::string> session;
  std::vector<std::pair<std::string, std::string>> tags;
  std::optional<Outcome> outcome;
  friend bool operator==(const RequestRecord&, const RequestRecord&) = default;
};

inline constexpr std::array<std::string_view, 5> kBudgetActionNames{"none", "blocked", "downgraded",
                                                                    "alerted", "session_blocked"};
inline constexpr std::array<std::string_view, 2> kUsageSourceNames{"reported", "estimated"};

/// The spelling of `admin-api.md` (`budget_action`, `usage_source`).
constexpr std::string_view to_string(BudgetAction action) noexcept {
  return kBudgetActionNames[static_cast<std::size_t>(action)];
}
constexpr std::string_view to_string(UsageSource source) noexcept {
  return kUsageSourceNames[static_cast<std::size_t>(source)];
}

/// Inverses of to_string(); nullopt for any other text.
constexpr std::optional<BudgetAction> parse_budget_action(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kBudgetActionNames.size(); ++i) {
    if (kBudgetActionNames[i] == text) return static_cast<BudgetAction>(i);
  }
  return std::nullopt;
}
constexpr std::optional<UsageSource> parse_usage_source(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kUsageSourceNames.size(); ++i) {
    if (kUsageSourceNames[i] == text) return static_cast<UsageSource>(i);
  }
  return std::nullopt;
}

}  // namespace spendwall::metering
