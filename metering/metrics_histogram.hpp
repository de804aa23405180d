#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "metering/metrics_table.hpp"

/// Fixed-bucket latency histograms stored as counter cells, so that they live in the same
/// single-writer shards as counters and are folded at scrape time.
/// Thread-safety: constants; observe() follows the single-writer rule of its cells.
namespace spendwall::metering {

/// Bucket bounds of one histogram kind, and the layout of its cells: one per finite
/// bucket (not cumulative), one for +Inf, then the sum. The count is the sum of the
/// buckets, so a concurrent scrape always sees a count that matches its buckets.
template <std::size_t BoundCount>
struct HistogramBuckets {
  /// Inclusive upper bounds ("le"), ascending, in integer nanoseconds so that a duration
  /// exactly on a bound lands in that bound's bucket.
  std::array<std::int64_t, BoundCount> upper_bounds_ns;
  /// Resolution of the stored sum, chosen so a worker's sum cannot wrap in practice.
  std::int64_t sum_tick_ns;

  static constexpr std::size_t kBoundCount = BoundCount;
  static constexpr std::size_t kInfCell = BoundCount;
  static constexpr std::size_t kSumCell = BoundCount + 1;
  static constexpr std::size_t kCellCount = BoundCount + 2;

  /// The cell a duration of `ns` counts in (kInfCell beyond the last bound).
  constexpr std::size_t bucket_of(std::int64_t ns) const noexcept {
    return static_cast<std::size_t>(
        std::lower_bound(upper_bounds_ns.begin(), upper_bounds_ns.end(), ns) -
        upper_bounds_ns.begin());
  }

  /// Records one duration; negative ones (a clock stepping back) count as 0.
  void observe(std::span<std::atomic<std::uint64_t>, kCellCount> cells,
               std::chrono::nanoseconds duration) const noexcept {
    const std::int64_t ns = std::max<std::int64_t>(duration.count(), 0);
    add_owned(cells[bucket_of(ns)], 1);
    add_owned(cells[kSumCell], static_cast<std::uint64_t>(ns / sum_tick_ns));
  }
};

/// Proxy overhead: tens of microseconds normally, up to 100 ms when something is wrong.
/// Summed in nanoseconds: the overhead total of a worker stays far from wrapping.
inline constexpr HistogramBuckets<12> kProxyOverheadBuckets{
    {25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000,
     25'000'000, 50'000'000, 100'000'000},
    1};

/// Upstream exchange and time to first token: 5 ms to 600 s (the longest streams).
/// Summed in microseconds: thousands of concurrent minutes-long streams would wrap a
/// nanosecond sum within months; microseconds last for millennia.
inline constexpr HistogramBuckets<16> kUpstreamBuckets{
    {5'000'000, 10'000'000, 25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000,
     1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000, 60'000'000'000,
     120'000'000'000, 300'000'000'000, 600'000'000'000},
    1'000};

}  // namespace spendwall::metering
