#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "metering/endpoint.hpp"
#include "metering/label_table.hpp"
#include "metering/metrics_histogram.hpp"
#include "metering/metrics_table.hpp"
#include "metering/usage.hpp"

/// The request path's side of the metrics: one `WorkerMetrics` per worker thread, written
/// with relaxed single-writer stores and folded by `MetricsRegistry` at scrape time.
namespace spendwall::metering {

/// One finished authenticated request on a metered endpoint (PRODUCT.md §2 "What is
/// counted"), rejected ones included. Label ids come from the registry's LabelTable;
/// kUnresolvedLabel (0) for what resolution did not reach.
struct RequestSample {
  LabelId workflow = kUnresolvedLabel;
  LabelId route = kUnresolvedLabel;
  LabelId provider = kUnresolvedLabel;
  LabelId model = kUnresolvedLabel;
  Endpoint endpoint = Endpoint::other;
  std::uint16_t status = 0;  ///< final HTTP status sent to the client
  TokenUsage tokens{};
  config::NanoUsd cost = 0;
  bool usage_estimated = false;
  std::chrono::nanoseconds proxy_overhead{0};  ///< time in the proxy, upstream excluded
};

/// `result` label of spendwall_upstream_attempts_total.
enum class AttemptResult : std::uint8_t {
  ok,
  rate_limited,
  server_error,
  timeout,
  connect_error,
  context_length,
  client_error,
};
inline constexpr std::size_t kAttemptResultCount = 7;

constexpr std::string_view attempt_result_label(AttemptResult result) noexcept {
  constexpr std::array<std::string_view, kAttemptResultCount> kLabels{
      "ok",          "rate_limited", "server_error", "timeout", "connect_error", "context_length",
      "client_error"};
  return kLabels[static_cast<std::size_t>(result)];
}

/// The attempt result of a failed attempt's class.
constexpr AttemptResult attempt_result(config::FailureClass failure) noexcept {
  switch (failure) {
    case config::FailureClass::rate_limited:
      return AttemptResult::rate_limited;
    case config::FailureClass::server_error:
      return AttemptResult::server_error;
    case config::FailureClass::timeout:
      return AttemptResult::timeout;
    case config::FailureClass::connect_error:
      return AttemptResult::connect_error;
    case config::FailureClass::context_length:
      return AttemptResult::context_length;
    case config::FailureClass::client_error:
      return AttemptResult::client_error;
  }
  return AttemptResult::client_error;
}

/// One upstream attempt (a same-target retry is an attempt of its own).
struct AttemptSample {
  LabelId provider = kUnresolvedLabel;
  LabelId model = kUnresolvedLabel;
  AttemptResult result = AttemptResult::ok;
  std::chrono::nanoseconds duration{0};  ///< the whole upstream exchange
  /// First body byte of a streamed response; nullopt when not streamed or none came.
  std::optional<std::chrono::nanoseconds> time_to_first_token{};
};

/// One move from a target to a different one.
struct FallbackSample {
  LabelId workflow = kUnresolvedLabel;
  LabelId route = kUnresolvedLabel;
  LabelId from_provider = kUnresolvedLabel;
  LabelId from_model = kUnresolvedLabel;
  LabelId to_provider = kUnresolvedLabel;
  LabelId to_model = kUnresolvedLabel;
  config::FailureClass reason = config::FailureClass::server_error;
};

/// Distinct label combinations each worker can hold per table, allocated up front.
/// Beyond them a table counts into its "other" series (see KeyedCounterTable).
struct MetricsCapacity {
  /// workflow × route × provider × model × endpoint × code (also carries cost, tokens
  /// and usage_estimated, whose labels are a projection of these).
  std::size_t requests = std::size_t{1} << 14;
  /// provider × model: upstream attempts and both upstream histograms.
  std::size_t upstream_targets = std::size_t{1} << 10;
  /// workflow × route × from × to × reason.
  std::size_t fallbacks = std::size_t{1} << 12;
  /// workflow: active requests.
  std::size_t workflows = std::size_t{1} << 10;
  /// provider: upstream connection gauges.
  std::size_t providers = std::size_t{1} << 8;
};

/// Key and cell layouts of the worker tables, shared by the writer and the collector.
namespace metrics_layout {

/// Four label ids in one word, the first in the high bits so that keys sort like labels.
constexpr std::uint64_t pack_labels(LabelId a, LabelId b, LabelId c, LabelId d) noexcept {
  return std::uint64_t{a} << 48 | std::uint64_t{b} << 32 | std::uint64_t{c} << 16 | d;
}
/// Label `position` (0 = highest) of a word made by pack_labels().
constexpr LabelId label_at(std::uint64_t word, unsigned position) noexcept {
  return static_cast<LabelId>(word >> (48 - 16 * position));
}

/// Requests. Key: {workflow route provider model, overflow flag | endpoint << 16 | status}.
enum RequestCell : std::size_t {
  kRequestCount,
  kCostNanoUsd,  ///< int64 nano-USD summed as uint64 (wraps back exactly)
  kInputTokens,
  kCachedInputTokens,
  kCacheWriteTokens,
  kOutputTokens,
  kReasoningTokens,
  kUsageEstimated,
  kRequestCellCount,
};
inline constexpr std::size_t kTokenKindCount = 5;
inline constexpr std::array<std::string_view, kTokenKindCount> kTokenKindLabels{
    "input", "cached_input", "cache_write", "output", "reasoning"};
/// Marks the overflow series of the requests table, whose code renders "other".
inline constexpr std::uint64_t kRequestOverflowFlag = std::uint64_t{1} << 63;
using RequestTable = KeyedCounterTable<2, kRequestCellCount>;

/// Upstream targets. Key: {provider << 16 | model}. Cells: one per attempt result, then
/// the duration histogram, then the time-to-first-token histogram.
inline constexpr std::size_t kDurationCells = kAttemptResultCount;
inline constexpr std::size_t kFirstTokenCells = kDurationCells + kUpstreamBuckets.kCellCount;
inline constexpr std::size_t kUpstreamCellCount = kFirstTokenCells + kUpstreamBuckets.kCellCount;
using UpstreamTable = KeyedCounterTable<1, kUpstreamCellCount>;

/// Fallbacks. Key: {workflow route from_provider from_model,
/// to_provider to_model 0 reason}; reason kFallbackOverflowReason renders "other".
inline constexpr std::uint64_t kFallbackOverflowReason = 0xFFFF;
using FallbackTable = KeyedCounterTable<2, 1>;

/// Active requests by workflow: one cell holding an int64 sum of deltas.
using WorkflowGaugeTable = KeyedCounterTable<1, 1>;

/// Upstream connections by provider: idle and active, as last set.
enum ConnectionCell : std::size_t { kIdleConnections, kActiveConnections, kConnectionCellCount };
using ConnectionTable = KeyedCounterTable<1, kConnectionCellCount>;

using HistogramCells = std::array<std::atomic<std::uint64_t>, kProxyOverheadBuckets.kCellCount>;

/// The collector's read access to a worker's shard.
struct ShardReader;

}  // namespace metrics_layout

/// The metric shard of one worker thread. Every data-plane member is noexcept, takes no
/// lock and allocates nothing: all storage is allocated by the constructor, and label
/// combinations beyond MetricsCapacity count into "other" series.
///
/// Thread-safety: the recording members belong to the one worker thread that owns this
/// shard (single writer); MetricsRegistry reads it concurrently from the scrape thread.
class alignas(64) WorkerMetrics {
 public:
  explicit WorkerMetrics(const MetricsCapacity& capacity = {});
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  /// Counts a finished authenticated request on a metered endpoint: requests_total,
  /// cost, tokens per kind, usage_estimated, and its proxy overhead.
  void request_finished(const RequestSample& sample) noexcept;

  /// Proxy overhead of a request that does not end in request_finished() (non-metered or
  /// unauthenticated ones); request_finished() already records its own.
  void proxy_overhead(Endpoint endpoint, std::chrono::nanoseconds overhead) noexcept;

  /// Counts an upstream attempt and its duration (and time to first token if streamed).
  void attempt_finished(const AttemptSample& sample) noexcept;

  /// Counts a move to another target.
  void fallback(const FallbackSample& sample) noexcept;

  /// Counts a request with a missing or unknown key, on any data-plane path.
  void unauthenticated(Endpoint endpoint) noexcept;

  /// Adjusts this worker's in-flight count of `workflow` (+1 on admission, -1 when done).
  void active_requests_add(LabelId workflow, int delta) noexcept;

  /// Sets this worker's open connection counts to `provider`; the export sums workers.
  /// Should the provider table ever overflow, providers beyond it share the "other"
  /// series and its value is the last one set.
  void upstream_connections_set(LabelId provider, unsigned idle, unsigned active) noexcept;

 private:
  friend struct metrics_layout::ShardReader;

  static std::size_t endpoint_index(Endpoint endpoint) noexcept;

  metrics_layout::RequestTable requests_;
  metrics_layout::UpstreamTable upstream_;
  metrics_layout::FallbackTable fallbacks_;
  metrics_layout::WorkflowGaugeTable active_requests_;
  metrics_layout::ConnectionTable connections_;
  alignas(64) std::array<metrics_layout::HistogramCells, kEndpointCount> proxy_overhead_{};
  std::array<std::atomic<std::uint64_t>, kEndpointCount> unauthenticated_{};
};

}  // namespace spendwall::metering
