#include "metering/cost.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>

#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using config::NanoUsd;
using config::Price;

constexpr NanoUsd usd_per_million(double usd) {
  return static_cast<NanoUsd>(usd * 1e9 + 0.5);  // test literals only; exact for these
}

struct CostCase {
  std::string_view name;
  TokenUsage usage;
  Price price;
  NanoUsd expected;
};

const CostCase kCostCases[] = {
    {"nothing", {}, {.input = 1, .output = 1}, 0},
    {"million_input_tokens", {.input = 1'000'000}, {.input = usd_per_million(2.50)}, 2'500'000'000},
    // 1 token at 0.5 nano-USD per token: exactly half rounds up.
    {"half_rounds_up", {.input = 1}, {.input = 500'000}, 1},
    {"just_under_half_rounds_down", {.input = 1}, {.input = 499'999}, 0},
    {"one_and_a_half_rounds_up", {.input = 3}, {.input = 500'000}, 2},
    // Each kind alone would round to 0; the sum is divided once: 0.4 + 0.4 = 0.8 → 1.
    {"divided_once_not_per_kind",
     {.input = 1, .output = 1},
     {.input = 400'000, .output = 400'000},
     1},
    // 1,000 uncached at 2.50 + 9,000 cached at 1.25 USD/1M = 0.0025 + 0.01125 USD.
    // Charging the cached tokens as input too would give 0.03625.
    {"cached_priced_at_its_own_rate_only",
     {.input = 1'000, .cached_input = 9'000},
     {.input = usd_per_million(2.50), .cached_input = usd_per_million(1.25)},
     13'750'000},
    {"every_kind_at_its_own_rate",
     {.input = 1, .cached_input = 10, .cache_write = 100, .output = 1'000, .reasoning = 10'000},
     {.input = 1'000'000,
      .cached_input = 2'000'000,
      .cache_write = 3'000'000,
      .output = 4'000'000,
      .reasoning = 5'000'000},
     1 + 20 + 300 + 4'000 + 50'000},
    // 5 × 2^40 tokens at 1,000 USD/1M: 5.5 × 10^18 nano-USD, exact.
    {"large_without_overflow",
     {.input = kMaxTokenCount,
      .cached_input = kMaxTokenCount,
      .cache_write = kMaxTokenCount,
      .output = kMaxTokenCount,
      .reasoning = kMaxTokenCount},
     {.input = 1'000'000'000'000,
      .cached_input = 1'000'000'000'000,
      .cache_write = 1'000'000'000'000,
      .output = 1'000'000'000'000,
      .reasoning = 1'000'000'000'000},
     5 * static_cast<NanoUsd>(kMaxTokenCount) * 1'000'000},
    {"beyond_range_saturates",
     {.input = std::numeric_limits<std::uint64_t>::max(),
      .output = std::numeric_limits<std::uint64_t>::max()},
     {.input = std::numeric_limits<NanoUsd>::max(), .output = std::numeric_limits<NanoUsd>::max()},
     std::numeric_limits<NanoUsd>::max()},
    {"negative_price_counts_as_zero",
     {.input = 1'000'000, .output = 1'000'000},
     {.input = -5'000'000'000, .output = 1'000'000'000},
     1'000'000'000},
};

class CostTest : public ::testing::TestWithParam<CostCase> {};

TEST_P(CostTest, SumsInIntegersAndRoundsHalfUpOnce) {
  const CostCase& c = GetParam();
  EXPECT_EQ(cost_nano_usd(c.usage, c.price), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, CostTest, ::testing::ValuesIn(kCostCases),
                         [](const auto& case_info) {
                           return testing::case_name(case_info.param.name);
                         });

}  // namespace
}  // namespace spendwall::metering
