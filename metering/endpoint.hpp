#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

/// The data-plane endpoints of PRODUCT.md §2, as a dense id usable as an array index.
/// Thread-safety: constants and pure functions.
namespace spendwall::metering {

enum class Endpoint : std::uint8_t {
  chat_completions,  ///< POST /v1/chat/completions (OpenAI)
  responses,         ///< POST /v1/responses (OpenAI Responses)
  embeddings,        ///< POST /v1/embeddings (OpenAI)
  completions,       ///< POST /v1/completions (OpenAI legacy)
  messages,          ///< POST /v1/messages (Anthropic)
  models,            ///< GET /v1/models
  feedback,          ///< POST /v1/feedback
  budget,            ///< GET /v1/budget
  other,             ///< any other path (404)
};
inline constexpr std::size_t kEndpointCount = 9;

/// The error and body format a client speaks on an endpoint.
enum class ApiFormat : std::uint8_t { openai, anthropic };

/// Metered endpoints produce a ledger record per authenticated request.
constexpr bool is_metered(Endpoint e) noexcept {
  return e == Endpoint::chat_completions || e == Endpoint::responses || e == Endpoint::embeddings ||
         e == Endpoint::completions || e == Endpoint::messages;
}

constexpr ApiFormat api_format(Endpoint e) noexcept {
  return e == Endpoint::messages ? ApiFormat::anthropic : ApiFormat::openai;
}

/// The label value of `endpoint` in metrics: the path, or "other".
constexpr std::string_view endpoint_label(Endpoint e) noexcept {
  constexpr std::array<std::string_view, kEndpointCount> kLabels{
      "/v1/chat/completions", "/v1/responses", "/v1/embeddings",
      "/v1/completions",      "/v1/messages",  "/v1/models",
      "/v1/feedback",         "/v1/budget",    "other"};
  return kLabels[static_cast<std::size_t>(e)];
}

/// Maps a request target (query string ignored) to its endpoint.
constexpr Endpoint classify_path(std::string_view target) noexcept {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  for (std::size_t i = 0; i + 1 < kEndpointCount; ++i) {
    auto e = static_cast<Endpoint>(i);
    if (endpoint_label(e) == target) return e;
  }
  return Endpoint::other;
}

}  // namespace spendwall::metering
