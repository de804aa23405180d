#include "proxy/routing/target_health.hpp"

namespace spendwall::proxy::routing {
namespace {

std::int64_t ticks(TargetHealth::Clock::time_point t) noexcept {
  return t.time_since_epoch().count();
}

}  // namespace

TargetHealth::TargetHealth(std::size_t targets)
    : size_(targets), slots_(std::make_unique<Slot[]>(targets)) {}

bool TargetHealth::available(std::size_t target, Clock::time_point now) const noexcept {
  return target >= size_ ||
         slots_[target].cooldown_until.load(std::memory_order_relaxed) <= ticks(now);
}

void TargetHealth::record_success(std::size_t target) noexcept {
  if (target < size_) slots_[target].consecutive_failures.store(0, std::memory_order_relaxed);
}

void TargetHealth::record_failure(std::size_t target, Clock::time_point now,
                                  Clock::duration cooldown, unsigned threshold) noexcept {
  if (target >= size_) return;
  Slot& slot = slots_[target];
  std::uint32_t failures = slot.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (threshold > 0 && failures >= threshold) {
    slot.consecutive_failures.store(0, std::memory_order_relaxed);
    cool_down(target, now + cooldown);
  }
}

void TargetHealth::cool_down(std::size_t target, Clock::time_point until) noexcept {
  if (target >= size_) return;
  std::atomic<std::int64_t>& slot = slots_[target].cooldown_until;
  std::int64_t wanted = ticks(until);
  std::int64_t current = slot.load(std::memory_order_relaxed);
  // Keep the later of two cooldowns: a short one must not cut a provider's long back-off.
  while (current < wanted &&
         !slot.compare_exchange_weak(current, wanted, std::memory_order_relaxed)) {
  }
}

}  // namespace spendwall::proxy::routing
