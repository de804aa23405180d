#include "policies/worst_case.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "metering/cost.hpp"

namespace spendwall::policies {
namespace {

constexpr NanoUsd kMax = std::numeric_limits<NanoUsd>::max();

config::Price price(NanoUsd input, NanoUsd output, NanoUsd cache_write = -1,
                    NanoUsd reasoning = -1) {
  config::Price p;
  p.input = input;
  p.cached_input = input;
  p.cache_write = cache_write < 0 ? input : cache_write;
  p.output = output;
  p.reasoning = reasoning < 0 ? output : reasoning;
  return p;
}

TEST(InputTokenBound, TextPlusFramingPlusMedia) {
  const InputSize input{.text_bytes = 1000, .message_count = 3, .media_parts = 2};
  EXPECT_EQ(input_token_bound(input, 1500),
            1000 + 3 * kFramingTokensPerMessage + kFramingTokensPerRequest + 2 * 1500);
  EXPECT_EQ(input_token_bound(InputSize{}, 1500), kFramingTokensPerRequest);
}

TEST(InputTokenBound, Saturates) {
  const InputSize huge{.text_bytes = std::numeric_limits<std::uint64_t>::max() - 10,
                       .message_count = 5,
                       .media_parts = 1};
  EXPECT_EQ(input_token_bound(huge, 1500), std::numeric_limits<std::uint64_t>::max());
}

TEST(WorstCaseCost, InputSideTimesTextBoundPlusOutputSideTimesMaximum) {
  // gpt-4o: 2.50 in, 10.00 out (nano-USD per 1M tokens).
  const InputSize input{.text_bytes = 1000, .message_count = 3, .media_parts = 2};
  const std::uint64_t input_tokens = 1000 + 24 + 600 + 3000;
  const NanoUsd expected = static_cast<NanoUsd>(input_tokens) * 2'500'000'000 / 1'000'000 +
                           1024LL * 10'000'000'000 / 1'000'000;
  EXPECT_EQ(worst_case_cost(input, 1024, 1500, 2'500'000'000, 10'000'000'000), expected);
  EXPECT_EQ(expected, 21'800'000);  // 0.0218 USD
}

TEST(WorstCaseCost, RoundsUpOnce) {
  // 600 framing tokens at 1 nano-USD per 1M tokens is 0.0006 nano-USD: reserved as 1.
  EXPECT_EQ(worst_case_cost(InputSize{}, 0, 0, 1, 0), 1);
  // Both sides' fractions add up before the single rounding: 600 + 400 000 → 0.4006 → 1.
  EXPECT_EQ(worst_case_cost(InputSize{}, 400'000, 0, 1, 1), 1);
  EXPECT_EQ(worst_case_cost(InputSize{}, 999'400, 0, 1, 1), 1);
  EXPECT_EQ(worst_case_cost(InputSize{}, 999'401, 0, 1, 1), 2);
  EXPECT_EQ(worst_case_cost(InputSize{}, 0, 0, 0, 0), 0);
}

TEST(WorstCaseCost, NegativePricesCountAsZeroAndHugeOnesSaturate) {
  EXPECT_EQ(worst_case_cost(InputSize{.text_bytes = 10}, 10, 0, -5, -5), 0);
  EXPECT_EQ(worst_case_cost(InputSize{}, std::numeric_limits<std::uint64_t>::max(), 0, 0, kMax),
            kMax);
  EXPECT_EQ(worst_case_cost(InputSize{.text_bytes = std::numeric_limits<std::uint64_t>::max()},
                            std::numeric_limits<std::uint64_t>::max(), 0, kMax, kMax),
            kMax);
}

TEST(ReservationPrices, TakesTheHighestSideAmongTargets) {
  ReservationPrices prices;
  prices
      .include(price(2'500'000'000, 10'000'000'000))                                 // gpt-4o
      .include(price(3'000'000'000, 15'000'000'000, /*cache_write=*/3'750'000'000))  // sonnet
      .include(price(150'000'000, 600'000'000, -1, /*reasoning=*/20'000'000'000));   // odd mini
  EXPECT_EQ(prices.input_side, 3'750'000'000);
  EXPECT_EQ(prices.output_side, 20'000'000'000);
  EXPECT_EQ(
      worst_case_cost(InputSize{.text_bytes = 400}, 100, 1500, prices),
      worst_case_cost(InputSize{.text_bytes = 400}, 100, 1500, 3'750'000'000, 20'000'000'000));
}

// The bound holds for any usage a target can bill within it: whatever mix of cached,
// uncached and cache-write input up to the input bound, and of visible and reasoning
// output up to the maximum, on any eligible target.
TEST(WorstCaseCost, BoundsTheMeteredCostOfAnyUsageWithinIt) {
  const config::Price targets[] = {price(2'500'000'000, 10'000'000'000),
                                   price(3'000'000'000, 15'000'000'000, 3'750'000'000),
                                   price(150'000'000, 600'000'000)};
  ReservationPrices prices;
  for (const auto& target : targets) prices.include(target);
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const InputSize input{.text_bytes = random() % 200'000,
                          .message_count = random() % 50,
                          .media_parts = random() % 4};
    const std::uint64_t max_output = 1 + random() % 8192;
    const NanoUsd bound = worst_case_cost(input, max_output, 1500, prices);
    const std::uint64_t input_tokens = random() % (input_token_bound(input, 1500) + 1);
    const std::uint64_t output_tokens = random() % (max_output + 1);
    metering::TokenUsage usage;
    usage.cache_write = random() % (input_tokens + 1);
    usage.cached_input = random() % (input_tokens - usage.cache_write + 1);
    usage.input = input_tokens - usage.cache_write - usage.cached_input;
    usage.reasoning = random() % (output_tokens + 1);
    usage.output = output_tokens - usage.reasoning;
    for (const auto& target : targets) {
      ASSERT_LE(metering::cost_nano_usd(usage, target), bound) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace spendwall::policies
