#pragma once

#include "config/config.hpp"
#include "metering/usage.hpp"

/// The cost of a request in integer nano-USD (PRODUCT.md §2 step 9). Its decimal USD form
/// for `x-spendwall-cost-usd` is config::format_usd().
///
/// Thread-safety: pure functions.
namespace spendwall::metering {

/// Σ tokens of each kind × that kind's price (nano-USD per 1M tokens), computed exactly in
/// 128-bit integers and divided by 10^6 once, rounding half up. `cached_input` and
/// `cache_write` are priced at their own rates only, never again as input.
///
/// Prices are non-negative after config validation; a negative one counts as 0. A result
/// beyond the range of NanoUsd (about 9.2 × 10^9 USD) saturates at its maximum.
config::NanoUsd cost_nano_usd(const TokenUsage& usage, const config::Price& price) noexcept;

}  // namespace spendwall::metering
