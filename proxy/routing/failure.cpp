#include "proxy/routing/failure.hpp"

#include <array>

namespace spendwall::proxy::routing {
namespace {

/// How OpenAI (`context_length_exceeded`) and Anthropic ("prompt is too long") say a
/// request did not fit the model's context window.
bool mentions_context_length(std::string_view body) noexcept {
  constexpr std::array<std::string_view, 4> kMarkers{
      "context_length_exceeded", "prompt is too long", "maximum context length", "context window"};
  for (std::string_view marker : kMarkers) {
    if (body.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

std::optional<FailureClass> classify_status(unsigned status, std::string_view body) noexcept {
  if (status >= 200 && status < 300) return std::nullopt;
  if (status == 429) return FailureClass::rate_limited;
  if (status >= 500) return FailureClass::server_error;
  if ((status == 400 || status == 413) && mentions_context_length(body))
    return FailureClass::context_length;
  if (status >= 400) return FailureClass::client_error;
  // 1xx and 3xx are not answers a model API gives.
  return FailureClass::server_error;
}

FailureClass classify_transport(upstream::TransportFailure failure) noexcept {
  switch (failure) {
    case upstream::TransportFailure::timeout:
      return FailureClass::timeout;
    case upstream::TransportFailure::connect_error:
      return FailureClass::connect_error;
    default:
      return FailureClass::server_error;
  }
}

std::string_view failure_label(FailureClass cls) noexcept { return config::to_string(cls); }

}  // namespace spendwall::proxy::routing
