#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

/// Which targets are cooling down after failing: `cooldown_after` consecutive failures
/// (or a Retry-After too long to wait for) take a target out of the rotation for a
/// while. Shared by every worker through relaxed atomics: a stale read costs at most
/// one extra attempt, never correctness.
/// Thread-safety: every member may be called from any thread.
namespace spendwall::proxy::routing {

class TargetHealth {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TargetHealth(std::size_t targets);

  /// False while the target cools down.
  bool available(std::size_t target, Clock::time_point now) const noexcept;
  void record_success(std::size_t target) noexcept;
  /// Counts a failure; the `threshold`-th in a row starts a cooldown of `cooldown`.
  void record_failure(std::size_t target, Clock::time_point now, Clock::duration cooldown,
                      unsigned threshold) noexcept;
  /// Takes the target out until `until` (a provider asked us to back off that long).
  void cool_down(std::size_t target, Clock::time_point until) noexcept;

 private:
  struct alignas(64) Slot {
    std::atomic<std::int64_t> cooldown_until{0};  ///< steady-clock ticks
    std::atomic<std::uint32_t> consecutive_failures{0};
  };
  std::size_t size_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace spendwall::proxy::routing
