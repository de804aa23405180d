#include "metering/cost.hpp"

#include <array>
#include <limits>
#include <utility>

namespace spendwall::metering {
namespace {

__extension__ typedef unsigned __int128 Uint128;

constexpr Uint128 kTokensPerPriceUnit = 1'000'000;  // prices are per 1M tokens
constexpr auto kMaxCost = std::numeric_limits<config::NanoUsd>::max();
// Past this the result saturates anyway; clamping the running sum here keeps every
// addition of a term (each below 2^127) inside 128 bits.
constexpr Uint128 kSaturatedSum = static_cast<Uint128>(kMaxCost) * kTokensPerPriceUnit;

}  // namespace

config::NanoUsd cost_nano_usd(const TokenUsage& usage, const config::Price& price) noexcept {
  const std::array<std::pair<std::uint64_t, config::NanoUsd>, 5> terms{{
      {usage.input, price.input},
      {usage.cached_input, price.cached_input},
      {usage.cache_write, price.cache_write},
      {usage.output, price.output},
      {usage.reasoning, price.reasoning},
  }};
  Uint128 sum = 0;  // nano-USD × 10^-6
  for (const auto& [tokens, rate] : terms) {
    if (rate <= 0) continue;
    sum += static_cast<Uint128>(tokens) * static_cast<Uint128>(rate);
    if (sum > kSaturatedSum) sum = kSaturatedSum;
  }
  const Uint128 rounded = (sum + kTokensPerPriceUnit / 2) / kTokensPerPriceUnit;
  return rounded >= static_cast<Uint128>(kMaxCost) ? kMaxCost
                                                   : static_cast<config::NanoUsd>(rounded);
}

}  // namespace spendwall::metering
