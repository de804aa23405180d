#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "metering/endpoint.hpp"
#include "proxy/net.hpp"
#include "proxy/routing/runtime_config.hpp"

/// The seam between the request pipeline and whatever answers as a provider: a real
/// HTTP(S) upstream or the in-process simulated provider.
namespace spendwall::proxy::upstream {

using Clock = std::chrono::steady_clock;

/// What the simulated provider needs to answer like a real one would.
struct RequestShape {
  bool stream = false;
  bool stream_include_usage = false;  ///< what the body sent upstream asks for
  std::uint64_t input_text_bytes = 0;
  std::optional<std::uint64_t> max_output_tokens;
};

/// One attempt at one target.
struct UpstreamRequest {
  const routing::ProviderRuntime* provider = nullptr;
  metering::Endpoint endpoint = metering::Endpoint::chat_completions;
  std::string_view model;  ///< the target's model name (already in `body`)
  std::string_view body;   ///< the JSON to send
  std::string_view query;  ///< the client's query string, without '?'
  const http::fields* client_headers = nullptr;
  RequestShape shape;
  Clock::time_point deadline;  ///< the whole exchange ends by then (request_timeout)
};

/// Receives a response as it arrives. The transport awaits each call before it reads
/// more, so a slow client slows the upstream read instead of growing a buffer.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  /// A non-zero result aborts the exchange (the connection is not reused).
  virtual awaitable<error_code> on_head(const http::response_header<>& head) = 0;
  virtual awaitable<error_code> on_body(std::string_view bytes) = 0;
};

/// Transport-level outcome. HTTP statuses are the sink's business.
enum class TransportFailure : std::uint8_t {
  none,
  connect_error,  ///< refused, reset before the head, DNS, TLS, pool exhausted
  timeout,        ///< connect, first byte, or the request deadline
  bad_response,   ///< not valid HTTP
  sink_aborted,   ///< the sink said stop (client gone, response too large, bad stream)
};

struct ExchangeResult {
  TransportFailure failure = TransportFailure::none;
  bool head_received = false;
  std::string_view detail;  ///< static text for logs and error messages
};

class UpstreamTransport {
 public:
  virtual ~UpstreamTransport() = default;
  virtual awaitable<ExchangeResult> exchange(const UpstreamRequest& request,
                                             ResponseSink& sink) = 0;
};

}  // namespace spendwall::proxy::upstream
