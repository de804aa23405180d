#include "metering/metrics_worker.hpp"

#include <span>

namespace spendwall::metering {

using namespace metrics_layout;

namespace {

constexpr std::uint64_t kOtherLabels =
    pack_labels(kOtherLabel, kOtherLabel, kOtherLabel, kOtherLabel);

template <std::size_t Offset, std::size_t CellCount>
std::span<std::atomic<std::uint64_t>, kUpstreamBuckets.kCellCount> histogram_cells(
    std::array<std::atomic<std::uint64_t>, CellCount>& cells) noexcept {
  static_assert(Offset + kUpstreamBuckets.kCellCount <= CellCount);
  return std::span<std::atomic<std::uint64_t>, kUpstreamBuckets.kCellCount>(
      cells.data() + Offset, kUpstreamBuckets.kCellCount);
}

}  // namespace

WorkerMetrics::WorkerMetrics(const MetricsCapacity& capacity)
    : requests_(
          capacity.requests,
          {kOtherLabels,
           kRequestOverflowFlag | std::uint64_t{static_cast<std::uint8_t>(Endpoint::other)} << 16}),
      upstream_(capacity.upstream_targets, {pack_labels(0, 0, kOtherLabel, kOtherLabel)}),
      fallbacks_(capacity.fallbacks, {kOtherLabels, pack_labels(kOtherLabel, kOtherLabel, 0, 0) |
                                                        kFallbackOverflowReason}),
      active_requests_(capacity.workflows, {kOtherLabel}),
      connections_(capacity.providers, {kOtherLabel}) {}

std::size_t WorkerMetrics::endpoint_index(Endpoint endpoint) noexcept {
  const auto index = static_cast<std::size_t>(endpoint);
  return index < kEndpointCount ? index : static_cast<std::size_t>(Endpoint::other);
}

void WorkerMetrics::request_finished(const RequestSample& sample) noexcept {
  const std::size_t endpoint = endpoint_index(sample.endpoint);
  auto& cells = requests_.find_or_insert(
      {pack_labels(sample.workflow, sample.route, sample.provider, sample.model),
       std::uint64_t{endpoint} << 16 | sample.status});
  add_owned(cells[kRequestCount], 1);
  // Cost and tokens are added unconditionally: the slot exists anyway, and a zero sum is
  // not exported, so an absent kind never becomes a series.
  add_owned(cells[kCostNanoUsd], static_cast<std::uint64_t>(sample.cost));
  add_owned(cells[kInputTokens], sample.tokens.input);
  add_owned(cells[kCachedInputTokens], sample.tokens.cached_input);
  add_owned(cells[kCacheWriteTokens], sample.tokens.cache_write);
  add_owned(cells[kOutputTokens], sample.tokens.output);
  add_owned(cells[kReasoningTokens], sample.tokens.reasoning);
  add_owned(cells[kUsageEstimated], sample.usage_estimated ? 1 : 0);
  kProxyOverheadBuckets.observe(proxy_overhead_[endpoint], sample.proxy_overhead);
}

void WorkerMetrics::proxy_overhead(Endpoint endpoint, std::chrono::nanoseconds overhead) noexcept {
  kProxyOverheadBuckets.observe(proxy_overhead_[endpoint_index(endpoint)], overhead);
}

void WorkerMetrics::attempt_finished(const AttemptSample& sample) noexcept {
  auto& cells = upstream_.find_or_insert({pack_labels(0, 0, sample.provider, sample.model)});
  add_owned(cells[static_cast<std::size_t>(sample.result)], 1);
  kUpstreamBuckets.observe(histogram_cells<kDurationCells>(cells), sample.duration);
  if (sample.time_to_first_token) {
    kUpstreamBuckets.observe(histogram_cells<kFirstTokenCells>(cells), *sample.time_to_first_token);
  }
}

void WorkerMetrics::fallback(const FallbackSample& sample) noexcept {
  auto& cells = fallbacks_.find_or_insert(
      {pack_labels(sample.workflow, sample.route, sample.from_provider, sample.from_model),
       pack_labels(sample.to_provider, sample.to_model, 0, 0) |
           static_cast<std::uint64_t>(sample.reason)});
  add_owned(cells[0], 1);
}

void WorkerMetrics::unauthenticated(Endpoint endpoint) noexcept {
  add_owned(unauthenticated_[endpoint_index(endpoint)], 1);
}

void WorkerMetrics::active_requests_add(LabelId workflow, int delta) noexcept {
  add_owned(active_requests_.find_or_insert({workflow})[0],
            static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)));
}

void WorkerMetrics::upstream_connections_set(LabelId provider, unsigned idle,
                                             unsigned active) noexcept {
  auto& cells = connections_.find_or_insert({provider});
  cells[kIdleConnections].store(idle, std::memory_order_relaxed);
  cells[kActiveConnections].store(active, std::memory_order_relaxed);
}

}  // namespace spendwall::metering
