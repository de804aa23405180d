#pragma once

#include <cstdint>
#include <random>

#include "proxy/net.hpp"
#include "proxy/upstream/transport.hpp"

/// The in-process `simulated` provider: answers in the endpoint's own API shape
/// (OpenAI chat, Responses, embeddings, legacy completions, Anthropic messages),
/// streaming or not, with deterministic usage derived from the request, paced by the
/// provider's `latency` and `tokens_per_second`, failing `error_rate` of requests with
/// `error_status`. Lets platform teams dry-run routes and budgets without spending.
/// Thread-safety: one instance per worker, confined to its thread.
namespace spendwall::proxy::upstream {

/// The usage the simulated provider reports for a request of this shape.
struct SimulatedUsage {
  std::uint64_t input_tokens = 0;
  std::uint64_t output_tokens = 0;
};
SimulatedUsage simulated_usage(metering::Endpoint endpoint, const RequestShape& shape) noexcept;

class SimulatedTransport final : public UpstreamTransport {
 public:
  SimulatedTransport(net::any_io_executor executor, std::uint64_t seed);

  awaitable<ExchangeResult> exchange(const UpstreamRequest& request, ResponseSink& sink) override;

 private:
  net::any_io_executor executor_;
  std::minstd_rand random_;
  std::uint64_t sequence_ = 0;
};

}  // namespace spendwall::proxy::upstream
