#pragma once

#include <cstdint>

#include "metering/usage.hpp"

/// The estimator used when a provider's usage never arrives (a cut stream, a provider
/// that omits it). Its records are marked UsageSource::estimated and counted apart.
/// Method and measured error: docs/design/usage-estimation.md.
///
/// Thread-safety: pure functions.
namespace spendwall::metering {

/// UTF-8 bytes of text per token assumed by the estimate: the ratio of English prose and
/// code in OpenAI's o200k/cl100k tokenizers. Text in other scripts has fewer bytes per
/// token, so for it the estimate is low (see the design note).
inline constexpr std::uint64_t kEstimateBytesPerToken = 4;

/// Tokens in `text_bytes` bytes of text: rounded up, so that any text is at least one token.
constexpr std::uint64_t estimate_tokens(std::uint64_t text_bytes) noexcept {
  return text_bytes / kEstimateBytesPerToken + (text_bytes % kEstimateBytesPerToken != 0 ? 1 : 0);
}

/// Usage of an exchange whose provider reported none.
///
/// `request_text_bytes`: the bytes of the request's text (message contents, prompt or
/// input strings, decoded), not of its JSON. `relayed_content_bytes`: the bytes of
/// content actually relayed to the client (StreamUsageTracker::content_bytes(), or
/// UsageExtractor::content_bytes_of_body() for a whole body; never the body's size), so a
/// cut stream is estimated for what was delivered; the provider may bill more (hidden
/// reasoning, the unsent rest). All input is counted as uncached, all output as visible.
constexpr TokenUsage estimate_usage(std::uint64_t request_text_bytes,
                                    std::uint64_t relayed_content_bytes) noexcept {
  TokenUsage usage;
  usage.input = estimate_tokens(request_text_bytes);
  usage.output = estimate_tokens(relayed_content_bytes);
  return usage;
}

}  // namespace spendwall::metering
