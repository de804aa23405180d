#pragma once

#include <cstdint>

#include "config/config.hpp"

/// The reservation a request makes before it is forwarded (PRODUCT.md §5): a cost it
/// cannot exceed unless it set no output maximum and outran the route's default.
///
/// Thread-safety: pure functions and plain values.
namespace spendwall::policies {

using config::NanoUsd;

/// What bounds a request's input tokens. The pipeline fills it from the parsed body
/// (`api::InputStats` has the same three fields; policies/ sits left of proxy/ and does
/// not include it).
struct InputSize {
  std::uint64_t text_bytes = 0;     ///< UTF-8 bytes of the input text (a BPE token is ≥ 1 byte)
  std::uint64_t message_count = 0;  ///< chat/Anthropic messages, Responses input items
  std::uint64_t media_parts = 0;    ///< images and audio parts
};

/// Tokens a provider's chat template adds around each message that are not bytes of the
/// request: OpenAI documents 3 per message (4 on older models); Llama- and Mistral-style
/// templates wrap a turn in up to 6 special and role tokens. 8 covers them with margin.
inline constexpr std::uint64_t kFramingTokensPerMessage = 8;

/// Tokens a provider adds once per request: the reply priming (3 on OpenAI) and the tool-use
/// system preamble Anthropic injects when tools are defined (up to 530 tokens in its
/// published table). Charged to every request because InputSize does not say whether
/// tools are present; at input prices it is a fraction of a cent.
inline constexpr std::uint64_t kFramingTokensPerRequest = 600;

/// Upper bound of the input tokens of a request: its text bytes, plus framing per message
/// and per request, plus `default_image_tokens` per media part. Saturates at UINT64_MAX.
std::uint64_t input_token_bound(const InputSize& input,
                                std::uint64_t default_image_tokens) noexcept;

/// The highest prices among a route's eligible targets, per side of the exchange: input side
/// = max(input, cache_write), output side = max(output, reasoning), in nano-USD per 1M tokens.
/// (cached_input is an input read at a lower rate and needs no term of its own.)
struct ReservationPrices {
  NanoUsd input_side = 0;
  NanoUsd output_side = 0;

  /// Widens the bound to cover one more eligible target.
  constexpr ReservationPrices& include(const config::Price& price) noexcept {
    input_side = max3(input_side, price.input, price.cache_write);
    output_side = max3(output_side, price.output, price.reasoning);
    return *this;
  }

 private:
  static constexpr NanoUsd max3(NanoUsd a, NanoUsd b, NanoUsd c) noexcept {
    const NanoUsd ab = a > b ? a : b;
    return ab > c ? ab : c;
  }
};

/// Worst-case cost of a request in nano-USD:
///   input_token_bound(input, default_image_tokens) × input_side_price
///   + max_output_tokens × output_side_price,
/// prices per 1M tokens, computed exactly in 128-bit integers and divided by 10^6 once,
/// rounding up (a reservation must never be below the cost it bounds). Negative prices
/// count as 0; a result beyond NanoUsd saturates at its maximum.
///
/// `max_output_tokens` is the request's own maximum, or else the route's
/// `default_max_output_tokens`.
NanoUsd worst_case_cost(const InputSize& input, std::uint64_t max_output_tokens,
                        std::uint64_t default_image_tokens, NanoUsd input_side_price,
                        NanoUsd output_side_price) noexcept;

/// The same with the prices of `prices`.
inline NanoUsd worst_case_cost(const InputSize& input, std::uint64_t max_output_tokens,
                               std::uint64_t default_image_tokens,
                               const ReservationPrices& prices) noexcept {
  return worst_case_cost(input, max_output_tokens, default_image_tokens, prices.input_side,
                         prices.output_side);
}

}  // namespace spendwall::policies
