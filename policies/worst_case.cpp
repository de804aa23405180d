#include "policies/worst_case.hpp"

#include <limits>

namespace spendwall::policies {
namespace {

__extension__ typedef unsigned __int128 Uint128;

constexpr std::uint64_t kMaxTokens = std::numeric_limits<std::uint64_t>::max();
constexpr Uint128 kTokensPerPriceUnit = 1'000'000;  // prices are per 1M tokens
constexpr NanoUsd kMaxCost = std::numeric_limits<NanoUsd>::max();

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
  return a > kMaxTokens - b ? kMaxTokens : a + b;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) noexcept {
  const Uint128 product = static_cast<Uint128>(a) * b;
  return product > kMaxTokens ? kMaxTokens : static_cast<std::uint64_t>(product);
}

Uint128 rate(NanoUsd price) noexcept { return price > 0 ? static_cast<Uint128>(price) : 0; }

}  // namespace

std::uint64_t input_token_bound(const InputSize& input,
                                std::uint64_t default_image_tokens) noexcept {
  std::uint64_t tokens = input.text_bytes;
  tokens = saturating_add(tokens, saturating_mul(input.message_count, kFramingTokensPerMessage));
  tokens = saturating_add(tokens, kFramingTokensPerRequest);
  return saturating_add(tokens, saturating_mul(input.media_parts, default_image_tokens));
}

NanoUsd worst_case_cost(const InputSize& input, std::uint64_t max_output_tokens,
                        std::uint64_t default_image_tokens, NanoUsd input_side_price,
                        NanoUsd output_side_price) noexcept {
  // Each product is below 2^127 (a 64-bit count times a 63-bit price), and so is the
  // saturation bound; checking each product against it keeps the sum from overflowing.
  constexpr Uint128 kSaturated = static_cast<Uint128>(kMaxCost) * kTokensPerPriceUnit;
  const Uint128 input_part =
      static_cast<Uint128>(input_token_bound(input, default_image_tokens)) * rate(input_side_price);
  const Uint128 output_part = static_cast<Uint128>(max_output_tokens) * rate(output_side_price);
  if (input_part >= kSaturated || output_part >= kSaturated - input_part) return kMaxCost;
  const Uint128 rounded_up =
      (input_part + output_part + kTokensPerPriceUnit - 1) / kTokensPerPriceUnit;
  return static_cast<NanoUsd>(rounded_up);
}

}  // namespace spendwall::policies
